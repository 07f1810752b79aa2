"""Exact-match accuracy, which-image accuracy and AttCoSeg pair accuracy by hand."""

from __future__ import annotations

import math

import pytest

from vistakit.metrics.selection import accuracy, image_selection_accuracy, pair_accuracy


def test_accuracy_nlvr():
    assert accuracy([True, False, None, True], [True, True, False, True]) == 2 / 4
    assert accuracy([True], [1]) == 0.0  # a boolean answer never matches an image index
    assert math.isnan(accuracy([], []))
    with pytest.raises(ValueError, match="gold value of sample 0 is None"):
        accuracy([True], [None])


def test_image_selection():
    assert image_selection_accuracy([0, 2, None, 1], [0, 1, 1, 1]) == 2 / 4
    with pytest.raises(ValueError, match="non-negative image index"):
        image_selection_accuracy([-1], [0])
    with pytest.raises(ValueError, match="non-negative image index"):
        image_selection_accuracy([True], [1])


def test_pair_accuracy():
    preds = [(0, 2), [2, 0], (0, 1), None, (0, 0), (0, 2, 3)]
    golds = [(0, 2)] * 6
    assert pair_accuracy(preds, golds) == 2 / 6
    with pytest.raises(ValueError, match="two different image indices"):
        pair_accuracy([(0, 1)], [(1, 1)])

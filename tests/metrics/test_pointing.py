"""Pointing accuracy and trace L1 against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vistakit.geometry import Space, Trace
from vistakit.metrics.pointing import point_accuracy, resample_trace, trace_l1, trace_l1_one


def test_point_accuracy_by_hand():
    m = np.zeros((4, 6), bool)
    m[1, 2] = True  # pixel covering x in [2, 3), y in [1, 2)
    preds = [[2.0, 1.0], [2.99, 1.99], [3.0, 1.5], [-0.5, 1.5], [100, 100], None]
    assert point_accuracy(preds, [m] * 6) == pytest.approx(2 / 6)
    assert math.isnan(point_accuracy([], []))
    with pytest.raises(ValueError, match="one predicted point, got 2"):
        point_accuracy([[[1, 1], [2, 2]]], [m])


def test_resample_keeps_ends_and_interpolates():
    xy = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 20.0]])
    out = resample_trace(xy, 5)
    np.testing.assert_allclose(out, [[0, 0], [5, 0], [10, 0], [10, 10], [10, 20]])
    np.testing.assert_allclose(resample_trace(xy[:1], 3), [[0, 0]] * 3)


def test_trace_l1_by_hand():
    size = (100, 50)
    gold = np.array([[0.0, 0.0], [100.0, 50.0]])
    same = Trace(np.array([[0.0, 0.0], [50.0, 25.0], [100.0, 50.0]]), [0, 1, 2], Space(size=size))
    assert trace_l1_one(same, gold, size) == pytest.approx(0.0, abs=1e-12)
    shifted = gold + [10.0, 5.0]  # |dx|/W = 0.1, |dy|/H = 0.1 at every point
    assert trace_l1_one(shifted, gold, size) == pytest.approx(0.1)
    reversed_ = gold[::-1]  # resampled to 3: dx/W = 1, 0, 1 and dy/H = 1, 0, 1 → mean 2/3
    assert trace_l1_one(reversed_, gold, size, n=3) == pytest.approx(2 / 3)
    assert trace_l1([shifted, None, np.zeros((0, 2))], [gold] * 3, [size] * 3) == pytest.approx((0.1 + 1 + 1) / 3)


def test_trace_l1_refuses_bad_input():
    with pytest.raises(ValueError, match="image size"):
        trace_l1_one([[0, 0]], [[0, 0]], (0, 10))
    with pytest.raises(ValueError, match="normalised"):
        trace_l1_one(Trace([[0.5, 0.5]], [0], Space(size=(2, 2), normalized=True)), [[0, 0]], (2, 2))
    with pytest.raises(ValueError, match="2 image sizes for 1"):
        trace_l1([None], [[[0, 0]]], [(1, 1), (1, 1)])

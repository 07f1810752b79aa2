"""REC / GREC metrics against hand computations and pycocotools' box IoU."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from vistakit.geometry import Boxes, Space
from vistakit.metrics.grounding import box_iou, grec_f1, grec_metrics, rec_accuracy


def test_rec_accuracy_by_hand():
    gold = [[0, 0, 10, 10]] * 4
    preds = [
        [0, 0, 10, 5],  # IoU 50/100 = 0.5 → counts at 0.5, not at 0.75; centre (5, 2.5) inside
        [5, 5, 15, 15],  # IoU 25/175; centre (10, 10) on the gold corner → inside (edges inclusive)
        [1, 1, 9, 9],  # IoU 64/100 → acc50 only
        None,  # no prediction → wrong everywhere
    ]
    out = rec_accuracy(preds, gold)
    assert out == {"acc50": 2 / 4, "acc75": 0 / 4, "center_acc": 3 / 4}
    assert box_iou(preds[1], gold[1]) == pytest.approx(25 / 175)


def test_rec_iou_matches_pycocotools_on_shifted_boxes():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 200, (50, 2))
    wh = rng.uniform(5, 80, (50, 2))
    gold = np.c_[xy, xy + wh]
    pred = gold + rng.normal(0, 10, gold.shape)
    pred[:, 2:] = np.maximum(pred[:, 2:], pred[:, :2] + 1)
    ref = [mask_utils.iou([np.r_[p[:2], p[2:] - p[:2]]], [np.r_[g[:2], g[2:] - g[:2]]], [0])[0, 0]
           for p, g in zip(pred, gold)]  # fmt: skip
    ours = [box_iou(p, g) for p, g in zip(pred, gold)]
    np.testing.assert_allclose(ours, ref, atol=1e-6)
    out = rec_accuracy(list(pred), list(gold))
    assert out["acc50"] == pytest.approx(np.mean(np.array(ref) >= 0.5))
    assert out["acc75"] == pytest.approx(np.mean(np.array(ref) >= 0.75))
    assert 0 < out["acc75"] < out["acc50"] < 1


def test_rec_accepts_typed_boxes_and_refuses_normalised():
    space = Space(size=(20, 20))
    assert rec_accuracy([Boxes([[0, 0, 10, 10]], space)], [Boxes([[0, 0, 10, 10]], space)])["acc75"] == 1.0
    with pytest.raises(ValueError, match="normalised"):
        rec_accuracy([Boxes([[0, 0, 0.5, 0.5]], space.as_normalized())], [[0, 0, 10, 10]])
    with pytest.raises(ValueError, match="expected one box, got 2"):
        rec_accuracy([[[0, 0, 1, 1], [0, 0, 2, 2]]], [[0, 0, 1, 1]])
    with pytest.raises(ValueError, match="2 predictions for 1"):
        rec_accuracy([None, None], [[0, 0, 1, 1]])
    assert all(math.isnan(v) for v in rec_accuracy([], []).values())


def test_grec_by_hand():
    g2 = [[0, 0, 10, 10], [20, 20, 30, 30]]
    preds = [
        np.zeros((0, 4)),  # no-target, predicted empty → N hit, F1 = 1
        [[0, 0, 5, 5]],  # no-target, predicted something → N miss
        [[20, 21, 30, 30], [0, 0, 10, 10]],  # both matched (order differs) → F1 = 1
        [[0, 0, 10, 10]],  # one of two → F1 = 2/3, still a target answer
        None,  # target, predicted empty → T miss
        [[0, 0, 10, 10], [0, 0, 10, 9]],  # duplicates: only one can match the single gold → F1 = 2/3
    ]
    golds = [np.zeros((0, 4)), [], g2, g2, [[0, 0, 4, 4]], [[0, 0, 10, 10]]]
    assert grec_f1(preds[3], golds[3]) == pytest.approx(2 / 3)
    assert grec_f1(preds[5], golds[5]) == pytest.approx(2 / 3)
    out = grec_metrics(preds, golds)
    assert out["n_acc"] == 1 / 2
    assert out["t_acc"] == 3 / 4
    assert out["f1_acc50"] == 2 / 6


def test_grec_undefined_rates_are_nan():
    out = grec_metrics([[[0, 0, 1, 1]]], [[[0, 0, 1, 1]]])
    assert math.isnan(out["n_acc"]) and out["t_acc"] == 1.0 and out["f1_acc50"] == 1.0

"""cIoU / gIoU / N-acc / T-acc / Jaccard on real COCO masks with eroded and shifted predictions."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from vistakit.geometry.masks import Mask
from vistakit.metrics.segmentation import gres_metrics, intersection_union, jaccard, res_metrics
from vistakit.paths import coco_tiny_instances


@pytest.fixture(scope="module")
def real_pairs():
    data = json.loads(coco_tiny_instances().read_text())
    images = {im["id"]: im for im in data["images"]}
    golds, preds = [], []
    for k, a in enumerate(a for a in data["annotations"] if not a["iscrowd"]):
        if len(golds) == 30:
            break
        im = images[a["image_id"]]
        g = Mask.from_coco_segmentation(a["segmentation"], im["height"], im["width"]).array
        p = cv2.erode(g.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
        if k % 3 == 0:
            p = np.roll(p, 6, axis=1)
        golds.append(g)
        preds.append(p)
    return preds, golds


def _rle(m):
    return mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))


def test_res_matches_pycocotools(real_pairs):
    preds, golds = real_pairs
    ious = [mask_utils.iou([_rle(p)], [_rle(g)], [0])[0, 0] for p, g in zip(preds, golds)]
    inter = sum(mask_utils.area(mask_utils.merge([_rle(p), _rle(g)], intersect=True)) for p, g in zip(preds, golds))
    union = sum(mask_utils.area(mask_utils.merge([_rle(p), _rle(g)])) for p, g in zip(preds, golds))
    out = res_metrics(preds, golds)
    assert out["giou"] == pytest.approx(np.mean(ious), abs=1e-6)
    assert out["ciou"] == pytest.approx(inter / union, abs=1e-6)
    assert 0.2 < out["giou"] < 0.95
    # RLE dicts and Mask objects give the same numbers
    rles = [Mask(p).to_rle() for p in preds]
    assert res_metrics(rles, [Mask(g) for g in golds]) == pytest.approx(out)


def test_gres_by_hand():
    z = np.zeros((4, 4), bool)
    a = z.copy()
    a[:2, :2] = True  # 4 px
    b = z.copy()
    b[:2, :] = True  # 8 px, contains a
    preds = [None, a, b, None, a]
    golds = [z, z, a, a, a]
    # samples: (no-target, empty pred) IoU 1, I 0 U 0 | (no-target, 4 px) IoU 0, U 4 | (a vs b) I 4 U 8
    #          (target, empty) IoU 0, U 4 | (perfect) I 4 U 4
    out = gres_metrics(preds, golds)
    assert out["giou"] == pytest.approx((1 + 0 + 0.5 + 0 + 1) / 5)
    assert out["ciou"] == pytest.approx((0 + 0 + 4 + 0 + 4) / (0 + 4 + 8 + 4 + 4))
    assert out["n_acc"] == 1 / 2
    assert out["t_acc"] == 2 / 3
    assert intersection_union(b, a) == (4, 8)


def test_empty_union_and_no_samples():
    z = np.zeros((3, 5), bool)
    assert res_metrics([None], [z]) == {"ciou": 0.0, "giou": 1.0}
    assert jaccard([z], [z]) == 1.0
    assert all(math.isnan(v) for v in gres_metrics([], []).values())
    out = gres_metrics([z], [z])
    assert out["n_acc"] == 1.0 and math.isnan(out["t_acc"])


def test_jaccard_by_hand():
    a = np.zeros((2, 4), bool)
    a[:, :2] = True
    b = np.zeros((2, 4), bool)
    b[:, 1:3] = True
    assert jaccard([a, b, a], [a, a, b]) == pytest.approx((1 + 1 / 3 + 1 / 3) / 3)


def test_bad_masks_are_refused():
    with pytest.raises(ValueError, match="mask is 2x2.*expected 3x3"):
        res_metrics([np.zeros((2, 2), bool)], [np.zeros((3, 3), bool)])
    with pytest.raises(TypeError, match="boolean or 0/1"):
        res_metrics([np.full((3, 3), 7)], [np.zeros((3, 3), bool)])
    with pytest.raises(ValueError, match="RLE"):
        res_metrics([{"size": [3, 3]}], [np.zeros((3, 3), bool)])

import json

import numpy as np
import pytest

from vistakit.geometry import SAMPLERS, Mask, get_sampler, mask_contours, rasterize_rings
from vistakit.geometry.sampling import resample_by_arc_length


@pytest.mark.parametrize("name", SAMPLERS.names())
@pytest.mark.parametrize("n", [3, 8, 32])
def test_budget_is_respected(name, n):
    arr = np.zeros((64, 64), bool)
    arr[5:30, 5:30] = True
    arr[40:60, 35:62] = True
    rings = get_sampler(name)(mask_contours(arr), n)
    assert rings and sum(len(r) for r in rings) <= n and all(len(r) >= 3 for r in rings)


def test_bad_budget():
    with pytest.raises(ValueError, match="n must be an integer >= 3"):
        get_sampler("default")([np.zeros((5, 2))], 2)


def test_unknown_sampler_lists_known():
    with pytest.raises(KeyError, match="uniform"):
        get_sampler("nope")


def test_arc_length_resampling_is_even():
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)
    pts = resample_by_arc_length(square, 8)
    assert np.allclose(np.hypot(*np.diff(np.vstack([pts, pts[:1]]), axis=0).T), 5)


def test_adaptive_uses_every_component():
    arr = np.zeros((64, 64), bool)
    arr[5:25, 5:25] = True
    arr[40:60, 40:60] = True
    assert len(get_sampler("adaptive")(mask_contours(arr), 16)) == 2
    assert len(get_sampler("uniform")(mask_contours(arr), 16)) == 1


def _mean_iou(masks, name, n):
    ious = []
    for m in masks:
        rec = rasterize_rings(get_sampler(name)(mask_contours(m.array), n), m.height, m.width)
        ious.append((rec & m.array).sum() / (rec | m.array).sum())
    return float(np.mean(ious))


def test_default_beats_uniform_on_real_coco_masks(shared_data):
    data = json.loads((shared_data / "coco_tiny/annotations/instances_train2017.json").read_text())
    images = {im["id"]: im for im in data["images"]}
    masks = [
        Mask.from_coco_segmentation(a["segmentation"], images[a["image_id"]]["height"], images[a["image_id"]]["width"])
        for a in data["annotations"][:120]
    ]
    for n in (8, 32):
        assert _mean_iou(masks, "default", n) > _mean_iou(masks, "uniform", n)

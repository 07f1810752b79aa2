import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vistakit.geometry import Mask
from vistakit.geometry.masks import foreground_bbox


@settings(max_examples=50, deadline=None)
@given(arrays(np.bool_, st.tuples(st.integers(1, 24), st.integers(1, 24))))
def test_rle_round_trip(arr):
    m = Mask(arr)
    rle = m.to_rle()
    assert isinstance(rle["counts"], str)
    back = Mask.from_rle(json.loads(json.dumps(rle)))
    assert np.array_equal(back.array, arr)
    # The box pycocotools reads off the RLE is the box a scan of the pixels finds.
    assert back.bbox_hint == foreground_bbox(arr)


def test_uncompressed_rle():
    m = Mask.from_rle({"size": [2, 3], "counts": [1, 2, 3]})
    assert m.array.sum() == 2 and m.array.shape == (2, 3)
    with pytest.raises(ValueError, match="sum to"):
        Mask.from_rle({"size": [2, 3], "counts": [1, 2]})


def test_corrupt_rle_is_a_clear_error():
    with pytest.raises(ValueError, match="RLE"):
        Mask.from_rle({"size": [4, 4]})


def test_bad_arrays():
    with pytest.raises(ValueError, match="H×W"):
        Mask(np.zeros((2, 2, 2), bool))
    with pytest.raises(ValueError, match="only 0 and 1"):
        Mask(np.full((2, 2), 3))


def test_coco_polygons_real_sample(shared_data):
    data = json.loads((shared_data / "coco_tiny/annotations/instances_train2017.json").read_text())
    images = {im["id"]: im for im in data["images"]}
    ann = next(a for a in data["annotations"] if isinstance(a["segmentation"], list))
    im = images[ann["image_id"]]
    m = Mask.from_coco_segmentation(ann["segmentation"], im["height"], im["width"])
    assert m.array.flags.c_contiguous
    # COCO's own area is the polygon area; the rasterised pixel count is within a few percent of it.
    assert abs(m.area() - ann["area"]) / ann["area"] < 0.1
    x, y, w, h = ann["bbox"]
    assert np.allclose(m.bbox().data[0], [x, y, x + w, y + h], atol=1.5)


def test_iou_of_empty_masks_is_one():
    z = Mask(np.zeros((3, 3), bool))
    assert z.iou(z) == 1.0

"""COCO instances / captions / keypoints on the shipped samples (coco_tiny with images, coco_mini without)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vistakit.data.convert.coco import convert_coco_captions, convert_coco_instances, convert_coco_keypoints
from vistakit.geometry import Mask


@pytest.fixture(scope="module")
def tiny(data_dir):
    return data_dir / "coco_tiny" / "annotations" / "instances_train2017.json"


@pytest.fixture(scope="module")
def tiny_conv(tiny, data_dir):
    return convert_coco_instances(tiny, data_dir / "coco_tiny" / "train2017", masks=True)


def test_instances_counts_match_source(tiny, tiny_conv, roundtrip):
    src = json.loads(tiny.read_text())
    recs = tiny_conv.splits["train2017"]
    det = [r for r in recs if r.task == "detection"]
    assert len(det) == len({a["image_id"] for a in src["annotations"] if not a["iscrowd"]}) == 80
    n_boxes = sum(len(r.targets.boxes) for r in det)
    n_crowd = sum(len(r.meta.get("crowd", [])) for r in det)
    assert n_crowd == sum(a["iscrowd"] for a in src["annotations"]) == 6
    assert n_boxes + n_crowd + tiny_conv.skipped.get("annotation with an empty box", 0) == 705
    res = [r for r in recs if r.task == "res"]
    assert len(res) + tiny_conv.skipped["res: category not unique in its image"] == n_boxes
    back = roundtrip(tiny_conv)
    assert len(back["train2017"]) == len(recs)
    # every image was found and linked from coco_tiny/train2017
    assert all(p is not None for p in tiny_conv.image_sources.values())


def test_instances_spot_check_known_annotation(tiny_conv):
    # annotation 284647: an umbrella in image 262145 (640×427), bbox xywh [212.6, 55.62, 53.04, 53.46]
    rec = next(r for r in tiny_conv.splits["train2017"] if r.id == "coco-train2017-262145")
    assert rec.image_sizes == [(640, 427)] and rec.images == ["images/000000262145.jpg"]
    i = rec.meta["coco_ann_ids"].index(284647)
    assert rec.targets.labels[i] == "umbrella"
    np.testing.assert_allclose(rec.targets.boxes[i], [212.6, 55.62, 265.64, 109.08], atol=1e-6)
    mask = Mask.from_rle(rec.targets.masks[i])
    assert mask.array.shape == (427, 640) and abs(mask.area() - 970) < 60  # polygon area 970.04
    assert "<p>umbrella</p><box>" in rec.answer
    # the crowd annotation of this image (person, uncompressed RLE in the source) is kept in meta as compressed RLE
    crowd = rec.meta["crowd"][0]
    assert crowd["label"] == "person" and isinstance(crowd["mask"]["counts"], str)
    assert Mask.from_rle(crowd["mask"]).area() > 0


def test_res_records_have_one_mask_and_unique_category(tiny_conv):
    for r in (r for r in tiny_conv.splits["train2017"] if r.task == "res"):
        assert len(r.targets.masks) == 1 and r.targets.labels[0] in r.prompt
        assert "<mask>" in r.answer


def test_captions_keep_every_reference(data_dir, roundtrip):
    path = data_dir / "coco_mini" / "annotations" / "captions_val2017.json"
    conv = convert_coco_captions(path)
    src = json.loads(path.read_text())
    recs = roundtrip(conv)["val2017"]
    assert sum(len(r.targets.answers) for r in recs) == len(src["annotations"]) == 395
    rec = next(r for r in recs if r.meta["coco_image_id"] == 205401)
    assert "A plane floating on top of a lake surrounded by mountains." in rec.targets.answers
    assert rec.answer == rec.targets.answers[0] and rec.task == "caption"


def test_keypoints_known_person(data_dir, roundtrip):
    path = data_dir / "coco_mini" / "annotations" / "person_keypoints_val2017.json"
    conv = convert_coco_keypoints(path)
    recs = roundtrip(conv)["val2017"]
    src = json.loads(path.read_text())
    labelled = [a for a in src["annotations"] if a["num_keypoints"] > 0 and not a["iscrowd"]]
    assert sum(len(r.targets.keypoints) for r in recs) == len(labelled)
    rec = next(r for r in recs if r.meta["coco_image_id"] == 397133)
    fig = rec.targets.keypoints[rec.meta["coco_ann_ids"].index(200887)]
    assert fig["names"][:2] == ["nose", "left_eye"] and len(fig["names"]) == 17
    assert fig["xy"][0] == [433.0, 94.0] and fig["visibility"][0] == 2
    assert rec.answer.count("<kps>") == len(rec.targets.keypoints)


def test_limit_and_split_name(tiny):
    conv = convert_coco_instances(tiny, split="mini", limit=3)
    assert list(conv.splits) == ["mini"] and len(conv.splits["mini"]) == 3


@pytest.mark.parametrize(
    "content, match",
    [
        ("{not json", "not valid JSON"),
        ('{"images": []}', "missing field 'annotations'"),
        ('{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [], "categories": []}', "no 'width'/'height'"),
        (
            '{"images": [{"id": 1, "file_name": "a.jpg", "width": 4, "height": 4}], "categories": [],'
            ' "annotations": [{"image_id": 2, "category_id": 1, "bbox": [0, 0, 1, 1]}]}',
            r"annotations\[0\]: image_id 2 is not in 'images'",
        ),
        (
            '{"images": [{"id": 1, "file_name": "a.jpg", "width": 4, "height": 4}],'
            ' "categories": [{"id": 1, "name": "x"}],'
            ' "annotations": [{"image_id": 1, "category_id": 1, "bbox": "oops", "id": 5}]}',
            "field 'bbox' must be list",
        ),
    ],
)
def test_bad_input_names_file_and_field(tmp_path, content, match):
    p = tmp_path / "instances_bad.json"
    p.write_text(content)
    with pytest.raises(ValueError, match=match) as err:
        convert_coco_instances(p)
    assert str(p) in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="COCO annotation file not found"):
        convert_coco_captions(tmp_path / "nope.json")

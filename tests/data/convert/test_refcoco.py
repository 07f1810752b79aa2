"""RefCOCO in three layouts: the refer toolkit's refs(unc).p (a faithful tiny FIXTURE built here from the
documented schema — no real refs(*).p is shipped), the real ReSC/TransVG unc_testB.pth split file and the real
joined refs_with_coco_masks.jsonl sample."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from vistakit.data.convert.refcoco import convert_refcoco, read_resc
from vistakit.geometry import Mask


def _instances(tmp_path):
    """A COCO instances.json in the refer layout's naming (COCO_train2014_*): one image, two objects."""
    inst = {
        "images": [{"id": 9, "file_name": "COCO_train2014_000000000009.jpg", "width": 64, "height": 48}],
        "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "dog"}],
        "annotations": [
            {"id": 101, "image_id": 9, "category_id": 1, "bbox": [4, 6, 20, 30], "iscrowd": 0,
             "segmentation": [[4, 6, 24, 6, 24, 36, 4, 36]], "area": 600},
            {"id": 102, "image_id": 9, "category_id": 2, "bbox": [30, 10, 30, 20], "iscrowd": 0,
             "segmentation": [[30, 10, 60, 10, 60, 30, 30, 30]], "area": 600},
        ],
    }  # fmt: skip
    p = tmp_path / "instances.json"
    p.write_text(json.dumps(inst))
    return p


def _refs(tmp_path, splits=("train", "testA")):
    """refs(unc).p: a protocol-2 pickle of ref dicts, the schema of the refer toolkit (lichengunc/refer)."""
    refs = [
        {"ref_id": 0, "ann_id": 101, "image_id": 9, "split": splits[0], "category_id": 1,
         "file_name": "COCO_train2014_000000000009_101.jpg", "sent_ids": [0, 1],
         "sentences": [{"sent": "man on the left", "raw": "Man on the left.", "tokens": ["man", "on", "the", "left"], "sent_id": 0},
                       {"sent": "left guy", "raw": "left guy", "tokens": ["left", "guy"], "sent_id": 1}]},
        {"ref_id": 1, "ann_id": 102, "image_id": 9, "split": splits[1], "category_id": 2,
         "file_name": "COCO_train2014_000000000009_102.jpg", "sent_ids": [2],
         "sentences": [{"sent": "dog", "raw": "dog", "tokens": ["dog"], "sent_id": 2}]},
    ]  # fmt: skip
    d = tmp_path / "refcoco"
    d.mkdir(exist_ok=True)
    p = d / "refs(unc).p"
    p.write_bytes(pickle.dumps(refs, protocol=2))
    return p


def test_refer_layout_fixture(tmp_path, roundtrip):
    conv = convert_refcoco(_refs(tmp_path), "refer", [_instances(tmp_path)])
    back = roundtrip(conv)
    assert sorted(back) == ["testA", "train"]
    train = back["train"]
    assert [r.task for r in train] == ["rec", "res", "rec", "res"]  # 2 sentences × (rec + res)
    rec = train[0]
    assert rec.targets.boxes == [[4.0, 6.0, 24.0, 36.0]] and rec.targets.labels == ["man on the left"]
    assert rec.images == ["images/COCO_train2014_000000000009.jpg"] and rec.image_sizes == [(64, 48)]
    assert rec.meta["ref_id"] == 0 and rec.meta["sent_id"] == 0 and rec.meta["split_by"] == "unc"
    assert "man on the left" in rec.prompt and rec.answer.startswith("<p>man on the left</p><box>")
    mask = Mask.from_rle(train[1].targets.masks[0])
    assert mask.array.shape == (48, 64) and mask.array[20, 10] and not mask.array[20, 40]
    assert conv.counts == {"expressions": 3}


def test_refer_layout_rejects_foreign_split_and_missing_instances(tmp_path):
    with pytest.raises(ValueError, match="split 'test' is not a unc split"):
        convert_refcoco(_refs(tmp_path, ("train", "test")), "refer", [_instances(tmp_path)])
    with pytest.raises(ValueError, match="needs --instances"):
        convert_refcoco(_refs(tmp_path), "refer")


def test_resc_real_split_file(data_dir, roundtrip):
    path = data_dir / "refcoco" / "unc_testB.pth"
    exprs = list(read_resc(path, [], None))
    assert len(exprs) == 5095 and exprs[0].sent == "zebra at the bottom" and exprs[0].image_id == 154
    assert exprs[0].meta["ann_id"] == 590410 and exprs[0].split == "testB"
    # sizes only for images some shipped COCO file knows; the rest is skipped and counted
    inst = [data_dir / "coco_mini" / "annotations" / f"instances_{s}2017.json" for s in ("train", "val")]
    conv = convert_refcoco(path, "resc", inst, data_dir / "refcoco" / "images")
    rec_n = sum(r.task == "rec" for r in conv.splits["testB"])
    assert rec_n + sum(conv.skipped.values()) - conv.skipped.get("res: no mask for the expression's object", 0) == 5095
    assert conv.source.startswith("refcoco (resc layout)")
    back = roundtrip(conv)["testB"]
    r = back[0]
    assert r.task == "rec" and r.image_sizes[0][0] > 0
    x, y, w, h = next(e.box_xywh for e in exprs if e.meta["ann_id"] == r.meta["ann_id"])
    np.testing.assert_allclose(r.targets.boxes[0], [x, y, x + w, y + h], atol=1e-3)


def test_joined_real_sample(data_dir, roundtrip):
    path = data_dir / "refcoco" / "refs_with_coco_masks.jsonl"
    conv = convert_refcoco(path, "joined")
    back = roundtrip(conv)
    recs = [r for rs in back.values() for r in rs]
    assert sum(r.task == "rec" for r in recs) == sum(r.task == "res" for r in recs) == 133
    assert len(back["refcoco+_unc_val"]) == 2 * 39
    # spot check: "guy furthest from camera", ann 460001 in image 100667 (640×480), bbox xywh [150.34, 8.69, 283.49, 459.6]
    r = next(
        r for r in back["refcoco+_unc_testA"] if r.targets.labels == ["guy furthest from camera"] and r.task == "res"
    )
    assert r.image_sizes == [(640, 480)] and r.meta["ann_id"] == 460001
    np.testing.assert_allclose(r.targets.boxes[0], [150.34, 8.69, 433.83, 468.29], atol=1e-3)
    assert Mask.from_rle(r.targets.masks[0]).area() > 10_000
    # every image_path of the source (relative to shared/data) is found; the other images are unknown
    src = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    paths = {s["image_path"] for s in src if s.get("image_path")}
    found = {str(p.relative_to(data_dir)) for p in conv.image_sources.values() if p is not None}
    assert found == paths and sum(s.get("image_path") is not None for s in src) == 103


def test_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match="refcoco resc annotation file not found"):
        convert_refcoco(tmp_path / "unc_val.pth", "resc")
    bad = tmp_path / "unc_val.pth"
    bad.write_bytes(pickle.dumps({"not": "a list"}, protocol=2))
    with pytest.raises(ValueError, match="expected a list"):
        convert_refcoco(bad, "resc")
    bad.write_bytes(pickle.dumps([("a.jpg", "1.pth", "no box", "x")], protocol=2))
    with pytest.raises(ValueError, match=r"item 0: box must be \[x, y, w, h\]"):
        convert_refcoco(bad, "resc")
    j = tmp_path / "joined.jsonl"
    j.write_text('{"split": "val", "sent": "x", "image_id": 1, "width": 10}\n')
    with pytest.raises(ValueError, match=r"joined.jsonl:line 1: missing field 'height'"):
        convert_refcoco(j, "joined")
    with pytest.raises(ValueError, match="layout must be one of"):
        convert_refcoco(j, "nope")

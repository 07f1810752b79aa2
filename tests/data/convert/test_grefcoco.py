"""gRefCOCO → grec / gres on a tiny FIXTURE of the public layout (grefs(unc).json + instances.json), built here from
the published schema (ann_id lists, [-1] + no_target for no object); no real gRefCOCO file is shipped."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vistakit.cli import main
from vistakit.data.convert.grefcoco import convert_grefcoco
from vistakit.geometry import Mask


def _square(x, y, w, h):
    return [[x, y, x + w, y, x + w, y + h, x, y + h]]


def _instances(tmp_path):
    """instances.json: image 9 (64×48) with two people and a dog, image 10 (32×32) with a crowd of people."""
    anns = [
        {"id": 101, "image_id": 9, "category_id": 1, "bbox": [40, 20, 10, 20], "iscrowd": 0, "segmentation": _square(40, 20, 10, 20)},
        {"id": 102, "image_id": 9, "category_id": 2, "bbox": [2, 30, 20, 10], "iscrowd": 0, "segmentation": _square(2, 30, 20, 10)},
        {"id": 103, "image_id": 9, "category_id": 1, "bbox": [4, 2, 10, 20], "iscrowd": 0, "segmentation": _square(4, 2, 10, 20)},
        {"id": 201, "image_id": 10, "category_id": 1, "bbox": [0, 0, 32, 16], "iscrowd": 1,
         "segmentation": {"size": [32, 32], "counts": [0, 16, 16] + [16, 16] * 15 + [16, 16]}},
    ]  # fmt: skip
    inst = {
        "images": [{"id": 9, "file_name": "COCO_train2014_000000000009.jpg", "width": 64, "height": 48},
                   {"id": 10, "file_name": "COCO_train2014_000000000010.jpg", "width": 32, "height": 32}],
        "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "dog"}],
        "annotations": anns,
    }  # fmt: skip
    p = tmp_path / "grefcoco" / "instances.json"
    p.parent.mkdir(exist_ok=True)
    p.write_text(json.dumps(inst))
    return p


def _sent(sid, text):
    return {"sent": text, "raw": text.capitalize() + ".", "tokens": text.split(), "sent_id": sid}


def _refs(tmp_path, **changes):
    """grefs(unc).json: a two-target ref, a one-target ref (old dumps: bare int ann_id), a no-target ref, and a
    ref naming a crowd region. ``changes`` overrides fields of ref 0."""
    refs = [
        {"ref_id": 0, "image_id": 9, "split": "train", "file_name": "COCO_train2014_000000000009.jpg",
         "ann_id": [101, 103], "category_id": [1, 1], "no_target": False, "sent_ids": [0, 1],
         "sentences": [_sent(0, "both people"), _sent(1, "the two persons")]},
        {"ref_id": 1, "image_id": 9, "split": "val", "file_name": "COCO_train2014_000000000009.jpg",
         "ann_id": 102, "category_id": 2, "no_target": False, "sent_ids": [2], "sentences": [_sent(2, "dog")]},
        {"ref_id": 2, "image_id": 9, "split": "train", "file_name": "COCO_train2014_000000000009.jpg",
         "ann_id": [-1], "category_id": [-1], "no_target": True, "sent_ids": [3], "sentences": [_sent(3, "the red cat")]},
        {"ref_id": 3, "image_id": 10, "split": "testA", "file_name": "COCO_train2014_000000000010.jpg",
         "ann_id": [201], "category_id": [1], "no_target": False, "sent_ids": [4], "sentences": [_sent(4, "the crowd")]},
    ]  # fmt: skip
    refs[0].update(changes)
    p = tmp_path / "grefcoco" / "grefs(unc).json"
    p.parent.mkdir(exist_ok=True)
    p.write_text(json.dumps(refs))
    return p


def test_multi_single_and_no_target(tmp_path, roundtrip):
    conv = convert_grefcoco(_refs(tmp_path), [_instances(tmp_path)])
    back = roundtrip(conv)
    assert sorted(back) == ["train", "val"]
    assert conv.counts == {"refs": 4, "expressions": 5, "no_target_expressions": 1}
    assert conv.skipped == {"expression naming a crowd annotation (a COCO ignore region)": 1}
    train = {r.id: r for r in back["train"]}
    assert sorted(train) == ["grefcoco-train-0-0", "grefcoco-train-0-0-mask", "grefcoco-train-0-1",
                             "grefcoco-train-0-1-mask", "grefcoco-train-2-3", "grefcoco-train-2-3-mask"]  # fmt: skip
    two = train["grefcoco-train-0-0"]
    assert two.task == "grec" and two.images == ["images/COCO_train2014_000000000009.jpg"]
    # reading order: ann 103 (top left) before ann 101
    assert two.targets.boxes == [[4.0, 2.0, 14.0, 22.0], [40.0, 20.0, 50.0, 40.0]]
    assert two.targets.labels == ["both people"] * 2 and two.meta["ann_ids"] == [103, 101]
    assert two.answer.startswith("<p>both people</p><box>") and two.answer.count("<box>") == 2
    assert "both people" in two.prompt
    none = train["grefcoco-train-2-3"]
    assert none.targets.boxes == [] and none.answer == "<none>" and none.meta["no_target"] is True
    assert train["grefcoco-train-2-3-mask"].targets.masks == [] and train["grefcoco-train-2-3-mask"].answer == "<none>"
    masks = train["grefcoco-train-0-0-mask"]
    assert masks.task == "gres" and len(masks.targets.masks) == 2 and masks.answer.count("<mask>") == 2
    m = Mask.from_rle(masks.targets.masks[0]).array
    assert m.shape == (48, 64) and m[10, 8] and not m[30, 45]
    one = back["val"][0]
    assert one.targets.boxes == [[2.0, 30.0, 22.0, 40.0]] and one.meta["ann_ids"] == [102]


def test_no_masks_and_limit(tmp_path):
    conv = convert_grefcoco(_refs(tmp_path), [_instances(tmp_path)], masks=False, limit=2, split="dev")
    assert [r.task for r in conv.splits["dev"]] == ["grec", "grec"] and conv.counts["expressions"] == 2


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"no_target": True}, r"no_target is true but ann_id is \[101, 103\]; expected ann_id \[-1\] exactly"),
        ({"ann_id": [-1, 101]}, r"'ann_id' \[-1, 101\] mixes -1 \(no object\)"),
        ({"ann_id": "101"}, r"field 'ann_id' must be a list of COCO annotation ids"),
        ({"ann_id": [999]}, r"ann_id 999 is not in the --instances annotations"),
        ({"image_id": 10}, r"ann_id 101 lies on image 9, not on the ref's image 10"),
        ({"split": "test"}, r"split 'test' is not a gRefCOCO split; expected one of \['train', 'val', 'testA', 'testB'\]"),
        ({"sentences": "both"}, r"field 'sentences' must be list"),
    ],
)
def test_bad_refs_name_the_ref(tmp_path, changes, message):
    with pytest.raises(ValueError, match=r"grefs\(unc\).json: ref 0: " + message):
        convert_grefcoco(_refs(tmp_path, **changes), [_instances(tmp_path)])


def test_bad_files(tmp_path):
    refs = _refs(tmp_path)
    with pytest.raises(ValueError, match="grefcoco needs --instances"):
        convert_grefcoco(refs)
    bad = tmp_path / "grefs(unc).json"
    bad.write_text('{"refs": []}')
    with pytest.raises(ValueError, match=r"expected a JSON list of refs \(grefs\(unc\).json\), got dict"):
        convert_grefcoco(bad, [_instances(tmp_path)])
    with pytest.raises(FileNotFoundError, match="gRefCOCO refs file"):
        convert_grefcoco(tmp_path / "nope.json", [_instances(tmp_path)])


def test_cli_convert_and_score(tmp_path, capsys, score_cli):
    out = tmp_path / "out"
    rc = main(["data", "convert", "--from", "grefcoco", "--annotations", str(_refs(tmp_path)),
               "--instances", str(_instances(tmp_path)), "--out", str(out), "--json"])  # fmt: skip
    assert rc == 0
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert info["tasks"] == {"grec": 4, "gres": 4} and info["splits"] == {"train": 6, "val": 2}
    from vistakit.data.record import read_records

    golds = list(read_records(out / "train.jsonl")) + list(read_records(out / "val.jsonl"))
    grec = [g for g in golds if g.task == "grec"]
    gres = [g for g in golds if g.task == "gres"]
    perfect = score_cli("grec", grec, {g.id: g.answer for g in grec})
    assert perfect == {"acc50": 1.0, "n_acc": 1.0, "t_acc": 1.0}
    # perturbed: the no-target expression gets a box, the two-target ones lose one box
    wrong = {g.id: g.answer for g in grec}
    for g in grec:
        if g.meta["no_target"]:
            wrong[g.id] = grec[0].answer
        elif len(g.targets.boxes) == 2:
            wrong[g.id] = g.answer[: g.answer.rindex("<box>")]
    worse = score_cli("grec", grec, wrong)
    assert worse["n_acc"] == 0.0 and worse["t_acc"] == 1.0 and worse["acc50"] == pytest.approx(1 / 4)
    m = score_cli("gres", gres, {g.id: g.answer for g in gres})
    assert m["n_acc"] == 1.0 and m["t_acc"] == 1.0 and m["ciou"] > 0.8 and m["giou"] > 0.8
    blank = score_cli("gres", gres, {g.id: "<none>" for g in gres})
    assert blank["t_acc"] == 0.0 and blank["ciou"] == 0.0 and np.isfinite(blank["giou"])

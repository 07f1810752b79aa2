"""Every task: build_answer → parse recovers the targets (original pixels) and scores perfectly on itself."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vistakit.data import Targets
from vistakit.geometry import Mask, SequenceGrammar, box_iou_xyxy
from vistakit.tasks import get_task

GRAMMAR = SequenceGrammar(1000)
CASES = ["caption", "reg", "vqa", "vqa_grounded", "nlvr_cited", "rec", "res", "grec", "grec_none", "gres", "gres_none", "grounded_caption",
         "detection", "pose", "attcoseg", "coseg", "nlvr", "which_image", "generate", "edit"]  # fmt: skip


def roundtrip(rec):
    task = get_task(rec.task)
    answer = task.build_answer(rec.targets, rec.image_sizes, GRAMMAR)
    return answer, task.parse(answer, rec.image_sizes, GRAMMAR)


@pytest.mark.parametrize("case", CASES)
def test_roundtrip_recovers_targets(records, case):
    rec = records[case]
    answer, pred = roundtrip(rec)
    assert pred.problems == [], (answer, pred.problems)
    t = rec.targets
    if t.boxes:
        assert pred.boxes.shape == (len(t.boxes), 4)
        assert np.diag(box_iou_xyxy(pred.boxes, t.boxes)).min() >= 0.99
    if t.masks:
        gold = [Mask.from_rle(m).array for m in t.masks]
        assert len(pred.masks) == len(gold)
        for p, g in zip(pred.mask_arrays(), gold):
            assert Mask(p).iou(Mask(g)) >= 0.95
    if t.image_ids:
        assert pred.image_ids == t.image_ids
    if t.keypoints:
        kp = pred.keypoints[0]
        assert kp.names == tuple(t.keypoints[0]["names"])
        assert kp.visibility.tolist() == t.keypoints[0]["visibility"]
        assert np.abs(kp.xy - np.asarray(t.keypoints[0]["xy"])).max() <= 0.5
    if case.endswith("_none"):
        assert pred.empty and len(pred.boxes) == 0 and pred.masks == []
    if case in ("caption", "reg", "vqa", "vqa_grounded", "grounded_caption"):
        assert pred.text == t.answers[0]
    if case == "grounded_caption":
        assert pred.labels == ["circle", "square"]
        assert np.abs(pred.points - [w["point"] for w in t.words]).max() <= 0.5


@pytest.mark.parametrize("case", [c for c in CASES if c not in ("caption", "reg", "grounded_caption")])
def test_self_score_is_perfect(records, case):
    rec = records[case]
    task = get_task(rec.task)
    _, pred = roundtrip(rec)
    scores = task.score([rec], [pred])
    assert set(scores) == set(task.metric_names)
    for name, value in scores.items():
        if math.isnan(value):
            continue  # undefined (e.g. n_acc with no no-target sample)
        lo = 0.99 if name in ("ciou", "giou", "jaccard") else 0.999
        if case == "gres_none" and name == "ciou":
            continue  # cIoU of empty vs empty is 0 by definition (no union)
        assert value >= lo, (name, value)


@pytest.mark.parametrize(
    "case", ["rec", "res", "grec", "detection", "which_image", "nlvr", "attcoseg", "vqa", "vqa_grounded", "nlvr_cited"]
)
def test_wrong_answer_scores_low(records, case):
    rec = records[case]
    task = get_task(rec.task)
    wrong = task.parse("<img_1>false no <box><loc_990><loc_990><loc_999><loc_999></box>", rec.image_sizes, GRAMMAR)
    scores = task.score([rec], [wrong])
    headline = scores[task.metric_names[0]]
    assert headline <= 0.01 or math.isnan(headline), scores


def test_detection_answer_names_each_instance(records):
    answer, _ = roundtrip(records["detection"])
    assert answer.count("<p>") == 2 and answer.startswith("<p>circle</p><box>")


def test_grounded_vqa_cites_referents_then_answers(records):
    answer, pred = roundtrip(records["vqa_grounded"])
    # one phrase per run of equal labels, then the answer after the last region
    assert answer.startswith("<p>red circle</p><box>") and answer.count("<p>square</p>") == 1
    assert answer.endswith("</box> yes")
    assert pred.labels == ["red circle", "square", "square"]
    task, sizes = get_task("vqa"), records["vqa"].image_sizes
    # the answer is what follows the last region, whatever precedes it; plain answers pass through
    assert task.parse("<p>red</p><none> no", sizes, GRAMMAR).text == "no"
    assert task.parse("<p>red circle</p><box><loc_1><loc_2> yes", sizes, GRAMMAR).text == "yes"  # unclosed box
    assert task.parse("square", sizes, GRAMMAR).text == "square"
    with pytest.raises(ValueError, match="one label per box"):
        task.build_answer(records["vqa_grounded"].targets.__class__(answers=["yes"], boxes=[[0, 0, 5, 5]]), sizes,
                          GRAMMAR)  # fmt: skip


def test_cited_nlvr_goes_image_by_image_then_judges(records):
    answer, pred = roundtrip(records["nlvr_cited"])
    assert answer.startswith("<img_0><none><img_1><p>square</p><box>") and answer.endswith("<img_2><none> false")
    assert answer.count("<p>square</p>") == 1 and pred.text == "false" and pred.image_ids == [1, 1]
    sizes = records["nlvr_cited"].image_sizes
    # the verdict is read after the last region: words inside cited phrases do not count
    assert get_task("nlvr").parse("<img_0><p>no</p><none> true", sizes, GRAMMAR).text == "true"
    assert get_task("nlvr").parse("true", sizes, GRAMMAR).text == "true"
    with pytest.raises(ValueError, match="image_ids"):
        get_task("nlvr").build_answer(Targets(answers=["true"], boxes=[[0, 0, 5, 5]], labels=["a"]), sizes, GRAMMAR)


def test_attcoseg_and_which_image_tags_are_zero_based(records):
    assert roundtrip(records["attcoseg"])[0].startswith("<img_0><mask>")
    assert "<img_2><mask>" in roundtrip(records["attcoseg"])[0]
    assert roundtrip(records["which_image"])[0] == "<img_2>"


def test_build_answer_refuses_missing_targets(records):
    from vistakit.data import Targets

    with pytest.raises(ValueError, match="exactly one target box"):
        get_task("rec").build_answer(Targets(), [(10, 10)], GRAMMAR)
    with pytest.raises(ValueError, match="'true' or 'false'"):
        get_task("nlvr").build_answer(Targets(answers=["maybe"]), [(10, 10)] * 2, GRAMMAR)

"""The task registry, prompts, Prediction, and the never-raise contract of every parser."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vistakit.data import Record
from vistakit.geometry import SequenceGrammar
from vistakit.tasks import TASKS, Prediction, get_task, task_names

ALL = ["caption", "reg", "vqa", "rec", "res", "grec", "gres", "grounded_caption", "detection", "pose", "attcoseg",
       "coseg", "nlvr", "which_image", "generate", "edit"]  # fmt: skip
GRAMMAR = SequenceGrammar(1000)


def test_every_task_is_registered():
    assert task_names() == sorted(ALL)
    assert len(TASKS) == len(ALL)


def test_unknown_task_lists_known_ones():
    with pytest.raises(KeyError, match="known: attcoseg, caption"):
        get_task("segment")


@pytest.mark.parametrize("name", ALL)
def test_prompts_have_one_image_placeholder_per_image_and_are_valid_records(name):
    task = get_task(name)
    assert len(task.prompt_templates) >= 3 or name == "vqa"
    slots = {s: "the red circle" for s in task.slots}
    n = task.num_images if task.num_images is not None else 3
    prompts = {task.make_prompt(random.Random(seed), n_images=n, **slots) for seed in range(20)}
    assert len(prompts) > 1  # several phrasings are used
    for p in prompts:
        assert p.count("<image>") == n
        assert "{" not in p
        vps = [{"type": "box", "image": 0, "box": [1, 1, 5, 5]}] * p.count("<region>")
        Record.from_json({"version": 1, "id": "x", "task": name, "images": ["a.png"] * n,
                          "image_sizes": [[10, 10]] * n, "prompt": p, "visual_prompts": vps}, "t")  # fmt: skip


def test_make_prompt_checks_slots_and_image_count():
    rec = get_task("rec")
    with pytest.raises(ValueError, match="missing \\['phrase'\\]"):
        rec.make_prompt(random.Random(0))
    with pytest.raises(ValueError, match="unknown \\['colour'\\]"):
        rec.make_prompt(random.Random(0), phrase="x", colour="red")
    with pytest.raises(ValueError, match="shows 1 image"):
        rec.make_prompt(random.Random(0), n_images=2, phrase="x")
    with pytest.raises(ValueError, match="n_images"):
        get_task("coseg").make_prompt(random.Random(0))
    assert get_task("coseg").make_prompt(random.Random(0), n_images=2).startswith("Image 1: <image>\nImage 2: <image>\n")


def test_prediction_normalises_shapes():
    p = Prediction(boxes=[1, 2, 3, 4], points=[[1, 2]])
    assert p.boxes.shape == (1, 4) and p.points.shape == (1, 2)
    assert Prediction().boxes.shape == (0, 4)


SIZES = [(320, 240), (100, 300), (64, 64)]
TOKENS = st.sampled_from(["<box>", "</box>", "<mask>", "</mask>", "<poly>", "</poly>", "<point>", "</point>",
                          "<kps>", "</kps>", "<kp>", "</kp>", "<occ>", "<none>", "<p>", "</p>", "<img_0>", "<img_2>",
                          "<img_9>", "<img_15>", "[GEN]", "[DET]", "<loc_0>", "<loc_999>", "<loc_500>", "<loc_1000>",
                          "true", "no", " head ", "<", ">", "red circle"])  # fmt: skip
ANSWERS = st.one_of(st.text(max_size=80), st.lists(st.one_of(TOKENS, st.text(max_size=5)), max_size=40).map("".join))


@settings(max_examples=60, deadline=None)
@given(text=ANSWERS, name=st.sampled_from(ALL))
def test_parse_never_raises(text, name):
    pred = get_task(name).parse(text, SIZES, GRAMMAR)
    assert isinstance(pred, Prediction)
    assert not any(p.startswith("could not read") for p in pred.problems), pred.problems
    assert pred.boxes.shape[1] == 4
    for m, k in zip(pred.mask_arrays(), pred.image_ids):
        assert m.shape == (SIZES[k][1], SIZES[k][0])
    if len(pred.boxes):
        assert pred.boxes.min() >= 0 and (pred.boxes[:, 2] <= max(w for w, _ in SIZES)).all()


def test_parse_of_a_non_string_is_a_problem_not_an_error():
    pred = get_task("rec").parse(None, SIZES, GRAMMAR)  # type: ignore[arg-type]
    assert pred.problems and len(pred.boxes) == 0


def test_parse_maps_to_the_named_image_and_skips_missing_images():
    pred = get_task("attcoseg").parse(
        "<img_1><mask><poly><loc_0><loc_0><loc_999><loc_0><loc_999><loc_999></poly></mask>"
        "<img_7><mask><poly><loc_0><loc_0><loc_999><loc_0><loc_999><loc_999></poly></mask>", SIZES, GRAMMAR)
    assert pred.image_ids == [1]
    assert pred.masks[0].shape == (300, 100)
    assert any("image 7" in p for p in pred.problems)
    np.testing.assert_equal(pred.masks[0][0, 50], True)

"""The location-span state machine accepts every answer the tasks write and nothing malformed."""

from __future__ import annotations

import pytest

from vistakit.data import RecordDataset
from vistakit.data.shapesworld.generate import GenerateConfig, generate_split
from vistakit.model.constraints import FREE, LocationConstraint, State


@pytest.fixture(scope="module")
def answers(tmp_path_factory, processor_module):
    out = tmp_path_factory.mktemp("sw")
    generate_split(out, GenerateConfig(split="train", n=48, seed=3))
    return [processor_module.answer_for(r) for r in RecordDataset(out)]


@pytest.fixture(scope="module")
def processor_module(tokenizer):
    from vistakit.model import VistaProcessor

    from .conftest import tiny_config

    config = tiny_config()
    config.image_pad_id = tokenizer.convert_tokens_to_ids("<image_pad>")
    config.lm.vocab_size = len(tokenizer)
    return VistaProcessor(tokenizer, config)


@pytest.fixture(scope="module")
def constraint(tokenizer):
    return LocationConstraint(tokenizer, len(tokenizer), bins=8, mask_points=8, eos_id=tokenizer.eos_token_id)


def walk(constraint, tokenizer, text: str) -> State:
    state = FREE
    for i in tokenizer(text, add_special_tokens=False)["input_ids"]:
        assert constraint.mask(state)[i], (text, tokenizer.convert_ids_to_tokens([i]), state)
        state = constraint.advance(state, i)
    return state


def test_every_task_answer_is_allowed(constraint, tokenizer, answers):
    kinds = "".join(answers)
    assert all(tag in kinds for tag in ("<box>", "<mask>", "<point>", "<kps>", "<none>", "<img_"))  # all covered
    occluded = "<kps><kp>head<loc_3><loc_1></kp><kp>left_hand<occ><loc_2><loc_4></kp><kp>foot</kp></kps>"
    for text in answers + [occluded]:
        assert walk(constraint, tokenizer, text) == FREE
        assert constraint.mask(FREE)[tokenizer.eos_token_id]


@pytest.mark.parametrize(
    "text, bad",
    [
        ("<box><loc_1><loc_2><loc_3></box>", "</box>"),  # three coordinates
        ("<box><loc_1><loc_2><loc_3><loc_4><loc_5>", "<loc_5>"),  # five
        ("<box><loc_5><loc_2><loc_4>", "<loc_4>"),  # x2 < x1: boxes are xyxy
        ("<box><loc_1><loc_5><loc_4><loc_3>", "<loc_3>"),  # y2 < y1
        ("<point><loc_1>yes", "yes"),
        ("<mask></mask>", "</mask>"),  # a mask needs a polygon
        ("<mask><poly><loc_1><loc_2><loc_3><loc_4></poly>", "</poly>"),  # a polygon needs 3 points
        ("<mask><poly><loc_1><loc_2><loc_3><loc_4><loc_5></poly>", "</poly>"),  # odd coordinates
        ("yes<loc_1>", "<loc_1>"),  # a stray location
        ("yes</box>", "</box>"),
        ("<kps><kp><loc_1>", "<loc_1>"),  # a keypoint needs a name
        ("<kps><kp>head<loc_1><loc_2><loc_3>", "<loc_3>"),
    ],
)
def test_malformed_spans_are_blocked(constraint, tokenizer, text, bad):
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    bad_id = tokenizer.convert_tokens_to_ids(bad) if bad.startswith("<") else ids[-1]
    state = FREE
    for i in ids:
        if i == bad_id and not constraint.mask(state)[i]:
            return
        state = constraint.advance(state, i)
    pytest.fail(f"{bad!r} was allowed in {text!r}")


def test_no_tag_can_be_spelled_from_characters(constraint, tokenizer):
    allowed = constraint.mask(FREE)
    for i, tok in enumerate(tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))):
        if allowed[i] and tok not in tokenizer.get_added_vocab():
            assert "<" not in tok and ">" not in tok, tok


def test_polygons_are_capped(constraint, tokenizer):
    state = State("poly", 16)  # 8 points = the cap of mask_points 8
    assert constraint.mask(state).sum() == 1 and constraint.mask(state)[tokenizer.convert_tokens_to_ids("</poly>")]

"""The record format: round trip through JSON Lines, and validation messages that name file, line and field."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vistakit.data import Record, Targets, VisualPrompt, read_records, write_records
from vistakit.geometry import Mask

import numpy as np

RLE = Mask(np.eye(20, 30, dtype=bool)).to_rle()  # 20 high, 30 wide


def base(**over) -> dict:
    obj = {"version": 1, "id": "r1", "task": "rec", "images": ["images/a.png", "images/b.png"],
           "image_sizes": [[30, 20], [40, 50]], "prompt": "<image>\n<image>\nWhere is <region>?",
           "visual_prompts": [{"type": "box", "image": 1, "box": [1, 2, 3, 4]}], "answer": "<box></box>",
           "targets": {"boxes": [[1, 2, 10, 12], [0, 0, 5, 5]], "masks": [RLE, Mask(np.ones((50, 40), bool)).to_rle()],
                       "image_ids": [0, 1], "labels": ["a", "b"], "answers": ["a red circle"],
                       "words": [{"text": "circle", "start": 6, "end": 12, "point": [3.0, 4.0], "image": 0}],
                       "traces": [{"xy": [[1, 2], [3, 4]], "t": [0.0, 0.5]}],
                       "points": [[1.5, 2.5]]},
           "meta": {"source": "test"}}  # fmt: skip
    obj.update(over)
    return obj


def test_json_round_trip(tmp_path):
    rec = Record.from_json(base(), "x")
    assert rec.image_sizes == [(30, 20), (40, 50)]
    assert isinstance(rec.visual_prompts[0], VisualPrompt) and rec.targets.num_instances() == 2
    path = tmp_path / "sub" / "train.jsonl"
    assert write_records(path, [rec, Record.from_json(base(id="r2"), "x")]) == 2
    back = list(read_records(path))
    assert [r.id for r in back] == ["r1", "r2"]
    assert back[0] == rec
    assert back[0].to_json() == Record.from_json(base(), "x").to_json()
    assert back[0].image_paths()[1] == path.parent / "images/b.png"


@pytest.mark.parametrize(
    "over, message",
    [
        ({"version": 2}, "unsupported record version 2"),
        ({"prompt": "<image>\nWhere is <region>?"}, "1 <image> placeholder"),
        ({"image_sizes": [[30, 20]]}, "image_sizes has 1 entries for 2 images"),
        ({"image_sizes": [[30, 0], [4, 5]]}, "image_sizes\\[0\\] must be \\[width, height\\]"),
        ({"visual_prompts": []}, "1 <region> placeholder"),
        ({"visual_prompts": [{"type": "scribble", "scribble": []}]}, "visual prompt type must be one of"),
        ({"targets": {"boxes": [[5, 5, 1, 1]]}}, "x2 >= x1"),
        ({"targets": {"boxes": [[1, 2, 3]]}}, "targets.boxes\\[0\\] \\(xyxy\\) must be a list of 4 numbers"),
        ({"targets": {"masks": [RLE], "image_ids": [1]}}, "does not match its image's \\[H, W\\] = \\[50, 40\\]"),
        ({"targets": {"boxes": [[0, 0, 1, 1]], "labels": ["a", "b"]}}, "equal lengths"),
        ({"targets": {"boxes": [[0, 0, 1, 1]], "image_ids": [0, 1]}}, "one image index per instance"),
        ({"targets": {"image_ids": [2]}}, "image_ids\\[0\\] = 2 is out of range 0..1"),
        ({"targets": {"answers": ["abc"], "words": [{"text": "x", "start": 0, "end": 1}]}}, "does not match answers"),
        ({"targets": {"traces": [{"xy": [[0, 0]], "t": [0, 1]}]}}, "1 points but 2 times"),
        ({"targets": {"keypoints": [{"names": ["a"], "xy": [[0, 0]], "visibility": [3]}]}}, "visibility must be 0, 1 or 2"),
        ({"targets": {"colour": 1}}, "unknown field\\(s\\) \\['colour'\\]"),
        ({"surprise": 1}, "record has unknown field"),
    ],
)
def test_validation_names_the_problem(over, message):
    with pytest.raises(ValueError, match=message):
        Record.from_json(base(**over), "f.jsonl:line 3")


def test_errors_name_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(base()) + "\n\n" + "{not json\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:line 3: not valid JSON"):
        list(read_records(path))
    path.write_text(json.dumps(base()) + "\n" + json.dumps(base(image_sizes=[[1, 1]])) + "\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:line 2 \(id r1\): image_sizes"):
        list(read_records(path))


def test_write_records_validates_hand_built_records(tmp_path):
    bad = Record("x", "rec", ["a.png"], [(10, 10)], "no placeholder", targets=Targets())
    with pytest.raises(ValueError, match="placeholder"):
        write_records(tmp_path / "o.jsonl", [bad])


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                    max_leaves=20)  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(obj=JSON, key=st.sampled_from(["version", "id", "images", "image_sizes", "prompt", "targets", "visual_prompts", "answer", "meta"]))
def test_arbitrary_field_values_give_value_errors_only(obj, key):
    try:
        Record.from_json(base(**{key: obj}), "f:line 1")
    except ValueError as exc:
        assert str(exc).startswith("f:line 1")

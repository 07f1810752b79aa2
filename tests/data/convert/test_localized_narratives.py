"""Image Localized Narratives on a faithful tiny FIXTURE (no real sample is shipped): built here from the
documented schema (dataset_id, image_id, annotator_id, caption, timed_caption[{utterance, start_time,
end_time}], traces[[{x, y, t}]], x/y normalised, times in seconds)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from vistakit.data.convert.localized_narratives import convert_localized_narratives, locate_words


def _fixture(tmp_path, image=True):
    if image:
        (tmp_path / "images").mkdir()
        Image.new("RGB", (200, 100)).save(tmp_path / "images" / "000000000042.jpg")
    narrative = {
        "dataset_id": "mscoco_val2017", "image_id": "42", "annotator_id": 7,
        "caption": "In this image we can see a dog, and a ball.",
        "timed_caption": [
            {"utterance": "In this image", "start_time": 0.0, "end_time": 0.8},
            {"utterance": "we can see", "start_time": 0.8, "end_time": 1.2},
            {"utterance": "a", "start_time": 1.2, "end_time": 1.3},
            {"utterance": "dog,", "start_time": 1.3, "end_time": 2.0},
            {"utterance": "and a", "start_time": 2.0, "end_time": 2.4},
            {"utterance": "ball.", "start_time": 2.4, "end_time": 3.0},
        ],
        "traces": [[{"x": 0.2, "y": 0.4, "t": 1.4}, {"x": 0.3, "y": 0.6, "t": 1.9}, {"x": 0.9, "y": 0.9, "t": 2.2}],
                   [{"x": 0.7, "y": 0.2, "t": 2.5}, {"x": 1.02, "y": -0.01, "t": 2.9}]],
    }  # fmt: skip
    p = tmp_path / "coco_val_localized_narratives.jsonl"
    p.write_text(json.dumps(narrative) + "\n")
    return p


def test_words_get_the_mean_trace_point(tmp_path, roundtrip):
    conv = convert_localized_narratives(_fixture(tmp_path), tmp_path / "images")
    (rec,) = roundtrip(conv)["train"]
    assert rec.images == ["images/000000000042.jpg"] and rec.image_sizes == [(200, 100)]
    words = {w["text"]: w for w in rec.targets.words}
    assert set(words) == {"dog", "ball"}  # closed-class words are not grounded
    np.testing.assert_allclose(words["dog"]["point"], [50.0, 50.0])  # mean of (40, 40) and (60, 60)
    np.testing.assert_allclose(words["ball"]["point"], [170.0, 10.0])  # (140, 20) and (200, 0) after clipping
    assert rec.targets.answers[0][words["dog"]["start"] : words["dog"]["end"]] == "dog"
    assert "<p>dog</p><point>" in rec.answer and rec.answer.endswith("</point>.")
    assert len(rec.targets.traces) == 2 and rec.targets.traces[0]["t"] == [1.4, 1.9, 2.2]


def test_all_words_and_missing_image(tmp_path):
    conv = convert_localized_narratives(_fixture(tmp_path), tmp_path / "images", all_words=True)
    texts = [w["text"] for w in conv.splits["train"][0].targets.words]
    assert texts == ["dog", "and a", "ball"]  # utterances with trace points during them
    (tmp_path / "x" / "images").mkdir(parents=True)
    conv = convert_localized_narratives(_fixture(tmp_path / "x", image=False), tmp_path / "x" / "images")
    assert conv.num_records() == 0 and conv.skipped["image not found under --images"] == 1


def test_locate_words_in_order():
    assert locate_words("a dog and a Dog.", ["A", "dog", "and", "a", "dog."]) == [
        (0, 1),
        (2, 5),
        (6, 9),
        (10, 11),
        (12, 15),
    ]
    assert locate_words("cat", ["dog", "cat"]) == [None, (0, 3)]


def test_bad_input(tmp_path):
    p = tmp_path / "ln.jsonl"
    p.write_text('{"dataset_id": "x", "image_id": "1", "caption": "c", "traces": []}\n')
    with pytest.raises(ValueError, match=r"ln.jsonl:line 1: missing field 'timed_caption'"):
        convert_localized_narratives(p)
    p.write_text("[1, 2]\n")
    with pytest.raises(ValueError, match="line 1: expected a JSON object"):
        convert_localized_narratives(p)

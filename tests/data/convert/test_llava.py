"""LLaVA conversation JSON on a faithful tiny FIXTURE (no LLaVA sample is shipped), built from the documented
schema ``[{"id", "image", "conversations": [{"from": "human"|"gpt", "value"}]}]``."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from vistakit.data.convert.llava import convert_llava

CONVERSATIONS = [
    {"id": "000000033471", "image": "coco/train2017/000000033471.jpg", "conversations": [
        {"from": "human", "value": "<image>\nWhat are the colors of the bus in the image?"},
        {"from": "gpt", "value": "The bus in the image is white and red."},
        {"from": "human", "value": "What feature can be seen on the back of the bus?"},
        {"from": "gpt", "value": "The back of the bus features an advertisement."},
    ]},
    {"id": "text-only-1", "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}]},
]  # fmt: skip


def _fixture(tmp_path, data=CONVERSATIONS):
    (tmp_path / "images" / "coco" / "train2017").mkdir(parents=True)
    Image.new("RGB", (64, 40)).save(tmp_path / "images" / "coco" / "train2017" / "000000033471.jpg")
    p = tmp_path / "llava_instruct.json"
    p.write_text(json.dumps(data))
    return p


def test_one_record_per_exchange_with_history(tmp_path, roundtrip):
    conv = convert_llava(_fixture(tmp_path), tmp_path / "images")
    recs = roundtrip(conv)["train"]
    assert [r.id for r in recs] == ["llava-train-000000033471-t0", "llava-train-000000033471-t1"]
    first, second = recs
    assert first.prompt == "<image>\nWhat are the colors of the bus in the image?"
    assert first.answer == "The bus in the image is white and red." and first.task == "vqa"
    assert second.prompt.startswith("<image>\nWhat feature") and second.meta["turn"] == 1
    assert second.meta["history"] == [
        {"from": "human", "value": "What are the colors of the bus in the image?"},
        {"from": "gpt", "value": "The bus in the image is white and red."},
    ]
    assert first.image_sizes == [(64, 40)] and first.images == ["images/coco/train2017/000000033471.jpg"]
    assert conv.skipped["text-only conversation (no image)"] == 1


def test_caption_task_and_bad_turn_order(tmp_path):
    conv = convert_llava(_fixture(tmp_path), tmp_path / "images", task="caption")
    assert {r.task for r in conv.splits["train"]} == {"caption"}
    bad = [{"id": "x", "image": "coco/train2017/000000033471.jpg",
            "conversations": [{"from": "gpt", "value": "a"}, {"from": "human", "value": "b"}]}]  # fmt: skip
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(bad))
    with pytest.raises(ValueError, match=r"entry 0: conversations\[0\] should come from 'human'"):
        convert_llava(p, tmp_path / "images")
    p.write_text(json.dumps({"id": "x"}))
    with pytest.raises(ValueError, match="expected a JSON list"):
        convert_llava(p)
    with pytest.raises(ValueError, match="llava task must be one of"):
        convert_llava(p, task="rec")

"""The shipped checkpoint's config.json after the config clean-up: ShapesWorld's attribute words are its recipe's
explicit choice (no longer a general default), it loads strictly, and it answers as it did before (answers recorded
with the shipped model before the clean-up; greedy, fp32)."""

import json

import pytest

from vistakit import Request, Vista, paths
from vistakit.data.dataset import RecordDataset
from vistakit.data.shapesworld.generate import GenerateConfig, generate_split
from vistakit.model import ModelConfig, read_config
from vistakit.model.config import VisionConfig
from vistakit.model.word_groups import load_vocab

RECORDED = {  # record id → the shipped model's answer before the clean-up
    "sw-test-000001": "A medium blue square, a large blue star, a small white triangle and a medium yellow square on "
                      "a gradient background.",
    "sw-test-000011": "<p>white object</p><box><loc_44><loc_25><loc_61><loc_41></box>",
    "sw-test-000012": "the large red object",
    "sw-test-000014": "orange",
}  # fmt: skip


def test_the_shipped_config_names_shapesworld_words_itself():
    vision = read_config(paths.REFERENCE_CHECKPOINT).vision
    assert VisionConfig().attribute_vocab == "" and vision.attribute_vocab == "shapesworld"
    words = {g: tuple(w) for g, w in vision.attribute_words.items()}
    assert words == load_vocab("shapesworld") and vision.attribute_weight == 0.5


def test_the_shipped_model_answers_as_before(tmp_path):
    generate_split(tmp_path, GenerateConfig(split="test", n=60, seed=123))
    records = [r for r in RecordDataset(tmp_path / "test.jsonl") if r.id in RECORDED]
    assert len(records) == len(RECORDED)
    vista = Vista.from_pretrained(device="cpu")  # loads strictly: every weight matches the config
    results = vista.predict_batch([Request([str(p) for p in r.image_paths()], r.prompt, r.task,
                                           r.visual_prompts or None, max_new_tokens=96) for r in records])  # fmt: skip
    assert {r.id: x.answer for r, x in zip(records, results)} == RECORDED


def test_a_config_naming_a_removed_experiment_loads_when_it_was_off_and_is_refused_when_on():
    obj = json.loads((paths.REFERENCE_CHECKPOINT / "config.json").read_text())
    obj["image_tokenizer"].update(zoom_grid=0, zoom_margin=0.25)  # as written before zoom tokens were removed
    assert ModelConfig.from_dict(obj) == read_config(paths.REFERENCE_CHECKPOINT)
    obj["image_tokenizer"]["zoom_grid"] = 4
    with pytest.raises(ValueError, match="image_tokenizer.zoom_grid = 4: that experiment was removed"):
        ModelConfig.from_dict(obj, "config.json")
    obj["image_tokenizer"]["zoom_grdi"] = 0
    with pytest.raises(ValueError, match="unknown field"):
        ModelConfig.from_dict({**obj, "image_tokenizer": {**obj["image_tokenizer"], "zoom_grid": 0}})
    obj["image_tokenizer"].pop("zoom_grdi")
    obj["image_tokenizer"]["zoom_grid"] = 0
    assert ModelConfig.from_dict({**obj, "image_tokenizer": {**obj["image_tokenizer"], "fine_patches": False}})
    with pytest.raises(ValueError, match="image_tokenizer.fine_patches = True: that experiment was removed"):
        ModelConfig.from_dict({**obj, "image_tokenizer": {**obj["image_tokenizer"], "fine_patches": True}})

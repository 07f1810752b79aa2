"""ModelConfig: JSON round trip, "a.b=value" overrides, validation messages; the preset registry."""

from __future__ import annotations

import json

import pytest

from vistakit.model import ModelConfig, apply_overrides, make_config, preset_names, read_config


def test_json_round_trip_is_exact():
    config = make_config("tiny")
    again = ModelConfig.from_dict(json.loads(config.to_json()))
    assert again == config
    assert again.vision.image_mean == config.vision.image_mean  # tuples survive JSON lists


def test_overrides_parse_each_type():
    config = apply_overrides(make_config("tiny"), ["lm.layers=2", "vision.mlp_ratio=2.5", "bins=32",
                                                   "vision.hf_path=none", "image_tokenizer.kind=projector",
                                                   "vision.image_std=0.5,0.5,0.5"])  # fmt: skip
    assert (config.lm.layers, config.vision.mlp_ratio, config.bins) == (2, 2.5, 32)
    assert config.vision.hf_path is None and config.image_tokenizer.kind == "projector"
    assert config.vision.image_std == (0.5, 0.5, 0.5)
    assert config.tokens_per_image == 64  # the projector keeps every patch of the 64 px / 8 px grid
    assert make_config("tiny").lm.layers == 4  # the preset itself is untouched


@pytest.mark.parametrize(
    "override, message",
    [
        ("lm.layers=two", "expected an integer"),
        ("lm.depth=2", "unknown field 'depth'"),
        ("nope.layers=2", "is not a section"),
        ("layers", "key=value"),
        ("vision.kind=resnet", "vision.kind must be one of"),
        ("canvas=32", "canvas 32 must equal vision.image_size 64"),
        ("vision", "key=value"),
    ],
)
def test_bad_overrides_name_the_problem(override, message):
    with pytest.raises(ValueError, match=message):
        apply_overrides(make_config("tiny"), [override])


def test_from_dict_refuses_unknown_fields():
    obj = make_config("tiny").to_dict()
    obj["lm"]["learning_rate"] = 1e-3
    with pytest.raises(ValueError, match=r"lm has unknown field\(s\) \['learning_rate'\]"):
        ModelConfig.from_dict(obj)


def test_read_config_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        read_config(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_config(tmp_path)


def test_presets():
    assert {"tiny", "tiny-projector", "vistallm-7b", "vistallm-siglip"} <= set(preset_names())
    tiny = make_config("tiny")
    assert (tiny.canvas, tiny.vision.patch_size, tiny.vision.dim, tiny.lm.hidden, tiny.bins) == (64, 8, 128, 256, 64)
    assert tiny.tokens_per_image == 16 + 4  # 16 queries + the relevance box as 4 location tokens
    big = make_config("vistallm-7b", vision_path="/clip", lm_path="/vicuna")
    assert big.vision.hf_path == "/clip" and big.lm.hf_path == "/vicuna" and big.image_tokenizer.num_queries == 32
    siglip = make_config("vistallm-siglip")
    assert siglip.vision.num_patches == 27 * 27
    with pytest.raises(KeyError, match="known: .*tiny"):
        make_config("huge")
    with pytest.raises(ValueError, match="takes no arguments"):
        make_config("tiny", lm_path="/x")

"""Damaged or hand-edited checkpoints: one line naming the file, the key and what was expected — checked before
anything is allocated (:mod:`vistakit.model.limits`, :mod:`vistakit.model.config_check`)."""

from __future__ import annotations

import json

import pytest

from vistakit.model import ModelConfig, create_model, load_for_finetuning, load_pretrained, read_config
from vistakit.model.limits import MAX_PARAMS_ENV, check_model_size, count_params
from vistakit.paths import REFERENCE_CHECKPOINT

from .conftest import TEXTS, tiny_config


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "model"
    model, processor = create_model(tiny_config(), TEXTS, vocab_size=300)
    model.save_pretrained(path, processor)
    return path


@pytest.fixture
def ckpt(saved, tmp_path):
    import shutil

    return shutil.copytree(saved, tmp_path / "model")


def _edit_config(path, edit):
    obj = json.loads((path / "config.json").read_text())
    edit(obj)
    (path / "config.json").write_text(json.dumps(obj))


@pytest.mark.parametrize("keep", [0, 7, 100, -10])
def test_a_truncated_weights_file_is_named(ckpt, keep):
    weights = ckpt / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: keep % len(data)])
    with pytest.raises(ValueError, match=r"model\.safetensors: not a whole safetensors file"):
        load_pretrained(ckpt)
    with pytest.raises(ValueError, match=r"model\.safetensors: not a whole safetensors file"):
        load_for_finetuning(ckpt)


def test_a_mistyped_config_value_names_the_key_value_and_type(ckpt):
    _edit_config(ckpt, lambda o: o["lm"].update(layers=4.0))
    with pytest.raises(ValueError, match=r"config\.json: lm\.layers = 4\.0 must be an integer, not float"):
        load_pretrained(ckpt)


@pytest.mark.parametrize(
    "section, key, value, expected",
    [("vision", "instruction_film", 1, "true or false"), ("lm", "hidden", "32", "an integer"),
     ("vision", "mlp_ratio", True, "a number"), ("vision", "image_mean", [0.5, 0.5], "a list of 3 numbers"),
     (None, "bins", None, "an integer"), ("lm", "hf_path", 3, "a string or null")],
)  # fmt: skip
def test_every_field_type_is_checked(ckpt, section, key, value, expected):
    _edit_config(ckpt, lambda o: (o[section] if section else o).__setitem__(key, value))
    name = f"{section}.{key}" if section else key
    with pytest.raises(ValueError, match=rf"{name} = .* must be {expected}"):
        read_config(ckpt)


def test_missing_config_keys_are_named_not_defaulted(ckpt):
    def drop(o):
        del o["lm"]["kv_heads"]
        del o["mask_points"]

    _edit_config(ckpt, drop)
    with pytest.raises(ValueError, match=r"config\.json is missing the key\(s\) \['lm\.kv_heads', 'mask_points'\]"):
        read_config(ckpt)


def test_the_shipped_reference_config_has_every_key():
    config = read_config(REFERENCE_CHECKPOINT)
    assert ModelConfig.from_dict(json.loads(config.to_json())) == config


def test_count_params_is_exact_and_allocates_nothing(saved):
    model, _ = load_pretrained(saved)
    assert count_params(model.config) == sum(p.numel() for p in model.parameters())
    huge = read_config(saved)
    huge.lm.hidden, huge.lm.intermediate, huge.lm.heads = 65536, 262144, 64
    assert count_params(huge) > 1e10  # counted on the meta device, in well under a second, no memory taken


def test_huge_dimensions_are_refused_before_allocation(ckpt, monkeypatch):
    _edit_config(ckpt, lambda o: o["lm"].update(hidden=65536, intermediate=262144, heads=64))
    monkeypatch.setenv(MAX_PARAMS_ENV, "1e9")
    with pytest.raises(ValueError, match=r"config\.json: its sizes describe a model of [\d,]+ parameters .* "
                                         r"more than the 1,000,000,000 allowed by \$VISTAKIT_MAX_PARAMS"):  # fmt: skip
        load_pretrained(ckpt)


def test_the_cap_defaults_to_available_memory_and_can_be_raised(saved, monkeypatch):
    import psutil

    config = read_config(saved)
    n = count_params(config)
    monkeypatch.delenv(MAX_PARAMS_ENV, raising=False)

    class Mem:
        available = (n - 1) * 4

    monkeypatch.setattr(psutil, "virtual_memory", lambda: Mem)
    with pytest.raises(ValueError, match="the memory available now"):
        check_model_size(config, "cfg")
    monkeypatch.setenv(MAX_PARAMS_ENV, str(n))
    assert check_model_size(config, "cfg") == n
    monkeypatch.setenv(MAX_PARAMS_ENV, "lots")
    with pytest.raises(ValueError, match=r"\$VISTAKIT_MAX_PARAMS must be a parameter count"):
        check_model_size(config, "cfg")


@pytest.mark.parametrize("text", [b"\xff{", b'{"bins": ' + b"9" * 5000 + b"}", b"[" * 100_000])
def test_an_unreadable_config_json_is_named(ckpt, text):
    (ckpt / "config.json").write_bytes(text)
    with pytest.raises(ValueError, match=r"config\.json: not a readable JSON config"):
        read_config(ckpt)

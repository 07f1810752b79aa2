"""Fixtures of the model commands' tests (train / eval / predict): a small ShapesWorld folder and an untrained
micro model saved as a checkpoint."""

import pytest

from vistakit.data.shapesworld.generate import GenerateConfig, generate_split


@pytest.fixture(scope="module")
def micro_overrides():
    """Overrides that turn the ``tiny`` preset into the ``micro`` one (for commands that take --preset tiny)."""
    from vistakit.model import make_config

    micro, tiny = make_config("micro").to_dict(), make_config("tiny").to_dict()
    return tuple(f"{part}.{k}={v}" if part else f"{k}={v}" for part, k, v in _diff(micro, tiny))


def _diff(a, b, part=""):
    for k, v in a.items():
        if isinstance(v, dict):
            yield from _diff(v, b.get(k, {}), f"{part}.{k}" if part else k)
        elif v != b.get(k) and k != "preset":
            yield part, k, v


@pytest.fixture(scope="module")
def sw_small(tmp_path_factory):
    out = tmp_path_factory.mktemp("sw")
    tasks = ("rec", "which_image", "vqa")
    generate_split(out, GenerateConfig(split="train", n=24, seed=2, tasks=tasks))
    generate_split(out, GenerateConfig(split="test", n=9, seed=2, tasks=tasks))
    return out


@pytest.fixture(scope="module")
def micro_ckpt(save_micro_model, sw_small):
    return save_micro_model(sw_small / "train.jsonl")

"""Fixtures of the model commands' tests (train / eval / predict): a small ShapesWorld folder and an untrained
micro model saved as a checkpoint."""

import pytest
import torch

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
def micro_ckpt(tmp_path_factory, sw_small):
    from vistakit.data.record import read_records
    from vistakit.model import create_model, make_config

    torch.manual_seed(0)
    texts = [t for r in read_records(sw_small / "train.jsonl") for t in (r.prompt, r.answer)]
    model, processor = create_model(make_config("micro"), texts, vocab_size=300)
    path = tmp_path_factory.mktemp("ckpt") / "micro"
    model.save_pretrained(path, processor)
    return path

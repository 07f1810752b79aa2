"""Fixtures of the model commands' tests (train / eval / predict): a small ShapesWorld folder and an untrained
micro model saved as a checkpoint."""

import pytest
import torch

from vistakit.data.shapesworld.generate import GenerateConfig, generate_split

# Model overrides for a model far smaller than the tiny preset (16 px canvas, width 32).
MICRO = (
    "vision.image_size=16",
    "canvas=16",
    "vision.patch_size=8",
    "vision.dim=32",
    "vision.depth=1",
    "vision.heads=2",
    "image_tokenizer.dim=32",
    "image_tokenizer.heads=2",
    "image_tokenizer.num_queries=4",
    "image_tokenizer.depth=1",
    "lm.hidden=32",
    "lm.layers=2",
    "lm.heads=2",
    "lm.intermediate=64",
    "lm.max_positions=256",
)


@pytest.fixture
def one_thread():
    """The test machine's cores are shared: more than one torch thread per process thrashes."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def micro_overrides():
    return MICRO


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
    model, processor = create_model(make_config("tiny", MICRO), texts, vocab_size=300)
    path = tmp_path_factory.mktemp("ckpt") / "micro"
    model.save_pretrained(path, processor)
    return path

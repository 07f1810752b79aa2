import pytest
import torch

from vistakit.data.shapesworld.generate import GenerateConfig, generate_split

# A model far smaller than the tiny preset: 16 px canvas, width 32, so each step takes milliseconds.
MICRO = (
    "model.vision.image_size=16",
    "model.canvas=16",
    "model.vision.patch_size=8",
    "model.vision.dim=32",
    "model.vision.depth=1",
    "model.vision.heads=2",
    "model.image_tokenizer.dim=32",
    "model.image_tokenizer.heads=2",
    "model.image_tokenizer.num_queries=4",
    "model.image_tokenizer.depth=1",
    "model.lm.hidden=32",
    "model.lm.layers=2",
    "model.lm.heads=2",
    "model.lm.intermediate=64",
    "model.lm.max_positions=256",
)


@pytest.fixture(scope="session")
def micro():
    """Model overrides (``model.*``) for the micro model."""
    return MICRO


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """The test machine's cores are shared: more than one torch thread per process thrashes."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def sw_data(tmp_path_factory):
    """A small ShapesWorld folder with train / val splits of a few quick-to-score tasks."""
    out = tmp_path_factory.mktemp("sw")
    tasks = ("rec", "vqa", "which_image", "detection")
    generate_split(out, GenerateConfig(split="train", n=64, seed=3, tasks=tasks))
    generate_split(out, GenerateConfig(split="val", n=16, seed=3, tasks=tasks))
    return out

import pytest

from vistakit.data.shapesworld.generate import GenerateConfig, generate_split


@pytest.fixture(scope="session")
def micro():
    """Train-setting overrides selecting the test-size ``micro`` model preset."""
    return ("preset=micro",)


@pytest.fixture(scope="session")
def sw_data(tmp_path_factory):
    """A small ShapesWorld folder with train / val splits of a few quick-to-score tasks."""
    out = tmp_path_factory.mktemp("sw")
    tasks = ("rec", "vqa", "which_image", "detection")
    generate_split(out, GenerateConfig(split="train", n=64, seed=3, tasks=tasks))
    generate_split(out, GenerateConfig(split="val", n=16, seed=3, tasks=tasks))
    return out

import pytest

from vistakit.data.shapesworld.generate import GenerateConfig, generate_split


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A small mixed-task train split (5 samples per task) written once per test module."""
    out = tmp_path_factory.mktemp("sw")
    generate_split(out, GenerateConfig(split="train", n=80, seed=7))
    return out

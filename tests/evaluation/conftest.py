import pytest

from vistakit.data.shapesworld.generate import GenerateConfig, generate_split


@pytest.fixture(scope="session")
def sw_eval(tmp_path_factory):
    """A ShapesWorld test split of a few tasks."""
    out = tmp_path_factory.mktemp("sw_eval")
    generate_split(out, GenerateConfig(split="test", n=12, seed=5, tasks=("rec", "which_image", "detection", "vqa")))
    return out


@pytest.fixture(scope="session")
def micro_checkpoint(save_micro_model, sw_eval):
    """An untrained micro model saved as a checkpoint folder (tokenizer trained on the test prompts)."""
    return save_micro_model(sw_eval / "test.jsonl")

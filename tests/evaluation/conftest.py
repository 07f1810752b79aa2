import pytest
import torch

from vistakit.data.shapesworld.generate import GenerateConfig, generate_split





@pytest.fixture(scope="session")
def sw_eval(tmp_path_factory):
    """A ShapesWorld test split of a few tasks."""
    out = tmp_path_factory.mktemp("sw_eval")
    generate_split(out, GenerateConfig(split="test", n=12, seed=5, tasks=("rec", "which_image", "detection", "vqa")))
    return out


@pytest.fixture(scope="session")
def micro_checkpoint(tmp_path_factory, sw_eval):
    """An untrained micro model saved as a checkpoint folder (tokenizer trained on the test prompts)."""
    from vistakit.data.record import read_records
    from vistakit.model import create_model, make_config

    torch.manual_seed(0)
    texts = [t for r in read_records(sw_eval / "test.jsonl") for t in (r.prompt, r.answer)]
    model, processor = create_model(make_config("micro"), texts, vocab_size=300)
    path = tmp_path_factory.mktemp("ckpt") / "micro"
    model.save_pretrained(path, processor)
    return path

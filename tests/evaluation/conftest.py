import pytest
import torch

from vistakit.data.shapesworld.generate import GenerateConfig, generate_split

# A model far smaller than the tiny preset (16 px canvas, width 32): built in a second, generates in milliseconds.
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


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """The test machine's cores are shared: more than one torch thread per process thrashes."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


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
    model, processor = create_model(make_config("tiny", MICRO), texts, vocab_size=300)
    path = tmp_path_factory.mktemp("ckpt") / "micro"
    model.save_pretrained(path, processor)
    return path

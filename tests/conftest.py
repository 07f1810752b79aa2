import pytest

from vistakit.paths import shared_data_dir


@pytest.fixture(scope="session")
def shared_data():
    """The shared real-data samples folder (../shared/data); tests needing it skip loudly if it is absent."""
    try:
        return shared_data_dir()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """The test machine's cores are shared with other processes: more than one torch thread per process thrashes."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency; keep geometry tests runnable without it
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def one_thread():
    """Kept for tests that ask for it by name; the session-wide fixture above already pins one thread."""
    yield


@pytest.fixture(scope="session")
def save_micro_model(tmp_path_factory):
    """``save_micro_model(records_file)`` → the folder of an untrained ``micro`` model saved as a checkpoint, its
    tokenizer trained on that file's prompts and answers (seeded: the same weights every time)."""

    def save(records_file):
        import torch

        from vistakit.data.record import read_records
        from vistakit.model import create_model, make_config

        torch.manual_seed(0)
        texts = [t for r in read_records(records_file) for t in (r.prompt, r.answer)]
        model, processor = create_model(make_config("micro"), texts, vocab_size=300)
        return model.save_pretrained(tmp_path_factory.mktemp("ckpt") / "micro", processor)

    return save

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

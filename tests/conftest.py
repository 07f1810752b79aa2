import pytest

from vistakit.paths import shared_data_dir


@pytest.fixture(scope="session")
def shared_data():
    """The shared real-data samples folder (../shared/data); tests needing it skip loudly if it is absent."""
    try:
        return shared_data_dir()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))

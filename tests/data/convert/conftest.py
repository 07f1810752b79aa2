"""Shared fixtures: the shipped real samples (shared/data) and a helper that writes and re-reads a dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from vistakit.data.convert import Conversion, write_dataset
from vistakit.data.record import read_records
from vistakit.paths import shared_data_dir


@pytest.fixture(scope="session")
def data_dir() -> Path:
    try:
        return shared_data_dir()
    except FileNotFoundError:
        pytest.skip("shared/data (the real data samples) is not available")


@pytest.fixture
def roundtrip(tmp_path):
    """``roundtrip(conv)``: write ``conv`` and read it back (see :func:`_roundtrip`)."""
    return lambda conv: _roundtrip(conv, tmp_path / "out")


def _roundtrip(conv: Conversion, out: Path) -> dict[str, list]:
    """Write ``conv`` with ``write_dataset`` (which validates every record) and read every split back."""
    info = write_dataset(conv, out, image_mode="none")
    back = {split: list(read_records(out / f"{split}.jsonl")) for split in info["splits"]}
    assert {k: len(v) for k, v in back.items()} == {k: len(v) for k, v in conv.splits.items()}
    return back

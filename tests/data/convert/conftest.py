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


@pytest.fixture
def score_cli(tmp_path, capsys):
    """``score_cli(task, golds, answers)``: metrics of ``vistakit score`` for ``answers`` (id → answer text)
    against the gold records ``golds``, run through the CLI."""

    def run(task: str, golds: list, answers: dict[str, str]) -> dict:
        import json

        from vistakit.cli import main
        from vistakit.data.record import write_records

        gold, pred = tmp_path / f"gold_{task}.jsonl", tmp_path / f"pred_{task}.jsonl"
        write_records(gold, golds)
        pred.write_text("".join(json.dumps({"id": k, "answer": v}) + "\n" for k, v in answers.items()))
        capsys.readouterr()
        assert main(["score", "--task", task, "--gold", str(gold), "--pred", str(pred), "--json"]) == 0
        return json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    return run

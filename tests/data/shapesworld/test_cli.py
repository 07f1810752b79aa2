"""Smoke test of ``vistakit data generate`` and ``vistakit data show``."""

import json

from PIL import Image

from vistakit.cli import main
from vistakit.data.record import read_records


def test_generate_then_show(tmp_path, capsys):
    out = tmp_path / "sw"
    assert main(["data", "generate", "--out", str(out), "--split", "val", "--n", "12", "--seed", "1",
                 "--tasks", "rec,pose,attcoseg", "--size", "96"]) == 0  # fmt: skip
    recs = list(read_records(out / "val.jsonl"))
    assert len(recs) == 12 and {r.task for r in recs} == {"rec", "pose", "attcoseg"}
    assert all(s == (96, 96) for r in recs for s in r.image_sizes)
    assert all(p.is_file() for r in recs for p in r.image_paths())
    assert json.loads((out / "dataset.json").read_text())["splits"] == {"val": 12}
    assert main(["data", "show", str(out), "--split", "val", "--n", "6", "--out", str(tmp_path / "g.png")]) == 0
    img = Image.open(tmp_path / "g.png")
    assert img.width > 500 and img.height > 200


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["data", "generate", "--out", str(tmp_path), "--n", "2", "--tasks", "nope"]) == 2
    assert "unknown ShapesWorld annotator 'nope'" in capsys.readouterr().err
    assert main(["data", "show", str(tmp_path), "--split", "test", "--out", str(tmp_path / "g.png")]) == 2
    assert "no split 'test'" in capsys.readouterr().err

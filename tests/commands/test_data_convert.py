"""``vistakit data convert`` end to end through the CLI table, and its one-line errors."""

from __future__ import annotations

import json

import pytest

from vistakit.cli import main
from vistakit.data.record import read_records
from vistakit.paths import shared_data_dir


@pytest.fixture(scope="module")
def data_dir():
    try:
        return shared_data_dir()
    except FileNotFoundError:
        pytest.skip("shared/data is not available")


def test_convert_visual_genome(data_dir, tmp_path, capsys):
    out = tmp_path / "vg"
    zip_ = data_dir / "visual_genome" / "region_descriptions_v1.2.0_dummy_data.zip"
    rc = main(["data", "convert", "--from", "visual-genome", "--annotations", str(zip_), "--out", str(out),
               "--limit", "10", "--split", "val", "--json"])  # fmt: skip
    assert rc == 0
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert info["splits"] == {"val": 10} and info["tasks"] == {"reg": 10}
    assert len(list(read_records(out / "val.jsonl"))) == 10


def test_convert_coco_tiny_links_images(data_dir, tmp_path):
    out = tmp_path / "coco"
    d = data_dir / "coco_tiny"
    rc = main(["data", "convert", "--from", "coco-instances", "--annotations", str(d / "annotations" / "instances_train2017.json"),
               "--images", str(d / "train2017"), "--out", str(out), "--limit", "2"])  # fmt: skip
    assert rc == 0
    recs = list(read_records(out / "train2017.jsonl"))
    assert len(recs) == 2 and all(p.is_file() for r in recs for p in r.image_paths())


def test_errors_are_one_line(tmp_path, capsys):
    rc = main(
        [
            "data",
            "convert",
            "--from",
            "coco-captions",
            "--annotations",
            str(tmp_path / "no.json"),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert "COCO annotation file not found" in err and "Traceback" not in err
    bad = tmp_path / "captions_x.json"
    bad.write_text('{"images": [], "annotations": []}')
    rc = main(["data", "convert", "--from", "coco-captions", "--annotations", str(bad), "--out", str(tmp_path / "o")])
    assert rc == 2 and "no records converted" in capsys.readouterr().err

"""Visual Genome region descriptions (the shipped v1.2 sample zip: real JSON, placeholder JPEGs)."""

from __future__ import annotations

import json
import zipfile

import pytest

from vistakit.data.convert.visual_genome import convert_visual_genome


@pytest.fixture(scope="module")
def vg_zip(data_dir):
    return data_dir / "visual_genome" / "region_descriptions_v1.2.0_dummy_data.zip"


def test_every_region_becomes_a_reg_record(vg_zip, roundtrip):
    conv = convert_visual_genome(vg_zip)
    recs = roundtrip(conv)["train"]
    assert len(recs) + sum(conv.skipped.values()) == conv.counts["regions"] == 1278
    r = recs[0]  # region 1382 of image 1 (800×600): x 421, y 57, 82×139, "the clock is green in colour"
    assert r.task == "reg" and r.id == "vg-train-1382" and r.image_sizes == [(800, 600)]
    assert r.visual_prompts[0].box == [421.0, 57.0, 503.0, 196.0]
    assert r.answer == "the clock is green in colour" and "<region>" in r.prompt
    assert r.images == ["images/VG_100K_2/1.jpg"]
    assert all(r.answer == r.answer.strip() for r in recs)  # source phrases carry trailing spaces


def test_sizes_come_from_json_not_placeholder_jpegs(vg_zip, tmp_path):
    with zipfile.ZipFile(vg_zip) as zf:
        zf.extractall(tmp_path)
    root = tmp_path / "dummy_data"
    conv = convert_visual_genome(root / "region_descriptions.json.zip" / "region_descriptions.json",
                                 root / "image_data.json.zip" / "image_data.json", images=root / "images.zip")  # fmt: skip
    sizes = {r.meta["vg_image_id"]: r.image_sizes[0] for r in conv.splits["train"]}
    assert sizes[2] == (800, 600) and sizes[3] == (640, 480)  # the JPEGs themselves are 5×5
    assert conv.image_sources["images/VG_100K/2.jpg"] is not None


def test_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match="region descriptions"):
        convert_visual_genome(tmp_path / "region_descriptions.json")
    ann = tmp_path / "region_descriptions.json"
    ann.write_text(json.dumps([{"id": 1, "regions": [{"image_id": 1, "phrase": "x", "x": 0, "y": 0, "width": 2}]}]))
    with pytest.raises(FileNotFoundError, match="image_data"):
        convert_visual_genome(ann)
    (tmp_path / "image_data.json").write_text(json.dumps([{"image_id": 1, "width": 10, "height": 10}]))
    with pytest.raises(ValueError, match=r"regions\[0\]: missing field 'height'"):
        convert_visual_genome(ann)
    (tmp_path / "image_data.json").write_text(json.dumps([{"image_id": 7, "width": 10, "height": 10}]))
    with pytest.raises(ValueError, match="image_id 1 is not in image_data.json"):
        convert_visual_genome(ann)

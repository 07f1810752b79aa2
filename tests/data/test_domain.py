"""``vistakit.data.domain``: the image measure, summarising a data folder, the warnings, the file round trip."""

import json

import numpy as np
import pytest
from PIL import Image

from vistakit.data.domain import (
    DOMAIN_FILE,
    TrainingDomain,
    image_features,
    read_domain,
    summarize_folder,
    write_domain,
)
from vistakit.data.shapesworld.generate import GenerateConfig, generate_split


@pytest.fixture(scope="module")
def sw(tmp_path_factory):
    out = tmp_path_factory.mktemp("sw")
    generate_split(out, GenerateConfig(split="train", n=60, seed=1, tasks=("rec", "caption", "which_image")))
    generate_split(out, GenerateConfig(split="test", n=30, seed=2, tasks=("rec", "caption", "which_image")))
    return out


def photo_like(w=320, h=240, seed=0):
    """Smooth colour gradients with noise: many colours, as a photograph has (ShapesWorld scenes have a handful)."""
    y, x = np.mgrid[0:h, 0:w] / max(w, h)
    noise = np.random.default_rng(seed).normal(0, 20, (h, w, 3))
    rgb = np.stack([x * 255, y * 255, (1 - x) * 200], -1) + noise
    return np.clip(rgb, 0, 255).astype(np.uint8)


def test_image_features_measure_size_and_colours():
    flat = np.zeros((64, 64, 3), np.uint8)
    flat[16:48, 16:48] = (200, 30, 30)
    f = image_features(flat)
    assert f == {"longer_side": 64.0, "colours": 2.0, "top8_share": 1.0}
    g = image_features(photo_like())
    assert g["longer_side"] == 320 and g["colours"] > 30 and g["top8_share"] < 0.6
    with pytest.raises(ValueError, match="expected an H×W×3 uint8 RGB image"):
        image_features(np.zeros((8, 8), np.uint8))


def test_a_data_folder_summary_knows_its_tasks_sizes_and_colours(sw):
    d = summarize_folder(sw, "train")
    assert d.tasks == ["caption", "rec", "which_image"] and d.sources == ["shapesworld"]
    assert sum(d.records.values()) == 60 and d.features["longer_side"] == [64.0, 64.0]
    lo, hi = d.features["colours"]
    assert 1 <= lo <= hi <= 16 and d.features["top8_share"][0] > 0.9
    assert len(d.channel_mean) == 3 and d.images_measured > 60  # which_image records show several images
    assert summarize_folder(sw, "train", tasks=["rec"]).tasks == ["rec"]
    with pytest.raises(FileNotFoundError, match="has no val.jsonl"):
        summarize_folder(sw, "val")


def test_fresh_scenes_pass_and_photos_untrained_tasks_and_odd_sizes_are_warned(sw):
    d = summarize_folder(sw, "train")
    scenes = sorted((sw / "images" / "test").glob("*.png"))
    assert scenes and all(d.warnings("rec", [np.asarray(Image.open(p).convert("RGB"))]) == [] for p in scenes)
    (w,) = d.warnings(None, [photo_like()])
    assert w.startswith("the image is far outside this model's training images (shapesworld)")
    assert "longer side is 320 px (trained: 64 px)" in w and "distinct colours" in w
    small = d.warnings(None, [photo_like(64, 48)])  # a photo at the trained size still differs in colours
    assert len(small) == 1 and "distinct colours" in small[0] and "longer side" not in small[0]
    (t,) = d.warnings("pose", [])
    assert "never trained on task 'pose'" in t and "caption, rec, which_image" in t
    scene = np.asarray(Image.open(scenes[0]).convert("RGB"))
    two = d.warnings("which_image", [scene, photo_like()])
    assert len(two) == 1 and two[0].startswith("image 2 is far outside")  # counted as prompts count: from 1


def test_the_record_round_trips_merges_and_refuses_malformed_files(sw, tmp_path):
    d = summarize_folder(sw, "train", tasks=["rec"], note="first")
    write_domain(tmp_path, d)
    assert read_domain(tmp_path) == d and read_domain(tmp_path / "nothing") is None
    later = TrainingDomain(tasks=["vqa"], sources=["coco"], records={"vqa": 5},
                           features={"longer_side": [100.0, 640.0]}, note="second")  # fmt: skip
    both = later.merged(d)
    assert both.tasks == ["rec", "vqa"] and both.sources == ["coco", "shapesworld"]
    assert both.features["longer_side"] == [64.0, 640.0] and both.records["vqa"] == 5 and both.note == "first; second"
    (tmp_path / DOMAIN_FILE).write_text(json.dumps({"tasks": "rec"}))
    with pytest.raises(ValueError, match="'tasks' must be a list of task names"):
        read_domain(tmp_path)
    (tmp_path / DOMAIN_FILE).write_text(json.dumps({"tasks": [], "features": {"colours": [5, 2]}}))
    with pytest.raises(ValueError, match=r"features.colours must be \[low, high\] with low <= high"):
        read_domain(tmp_path)
    (tmp_path / DOMAIN_FILE).write_text("{oops")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_domain(tmp_path)


def test_the_data_domain_command_prints_or_writes_the_record(sw, tmp_path, capsys):
    from vistakit.cli import main

    assert main(["data", "domain", str(sw), "--tasks", "rec"]) == 0
    assert json.loads(capsys.readouterr().out)["tasks"] == ["rec"]
    assert main(["data", "domain", str(sw), "--checkpoint", str(tmp_path)]) != 0
    assert "no config.json, so not a vistakit model folder" in capsys.readouterr().err
    (tmp_path / "config.json").write_text("{}")
    assert main(["data", "domain", str(sw), "--checkpoint", str(tmp_path), "--note", "made by hand"]) == 0
    assert read_domain(tmp_path).note == "made by hand" and "wrote the training domain" in capsys.readouterr().out

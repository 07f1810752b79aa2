"""The GenEval-style checker on the renderer's own images (it must pass nearly all) and on corrupted ones (it
must drop)."""

import json

import numpy as np
import pytest

from vistakit.data.images import read_image
from vistakit.data.shapesworld.check import check_edited, check_generated, untouched_region
from vistakit.data.shapesworld.generate import GenerateConfig, generate_split
from vistakit.data.shapesworld.parse_image import parse_image
from vistakit.data.shapesworld.scene import COLOURS, Scene
from vistakit.data.shapesworld.shapes import shape_mask

N = 24


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen")
    generate_split(out, GenerateConfig(split="test", n=2 * N, seed=5, tasks=("generate", "edit")))
    recs = [json.loads(line) for line in (out / "test.jsonl").read_text().splitlines()]
    return out, recs


def _img(root, rel):
    return read_image(root / rel, rel)


def test_parse_reads_a_lone_shape_of_each_kind():
    for shape in ("circle", "square", "triangle", "star", "hexagon"):
        img = np.full((64, 64, 3), 120, np.uint8)
        img[shape_mask(shape, (30.4, 33.2), 13.0, 0.4, (64, 64))] = COLOURS["blue"]
        seen = parse_image(img)
        assert [(o.colour, o.shape) for o in seen] == [("blue", shape)]


def test_renderer_targets_pass(split):
    root, recs = split
    gens = [r for r in recs if r["task"] == "generate"]
    checks = [check_generated(_img(root, r["meta"]["target_image"]), Scene.from_json(r["meta"]["scene"])) for r in gens]
    overall = np.mean([c["overall"] for c in checks])
    assert overall >= 0.9, overall
    assert np.mean([c["position"] for c in checks]) >= 0.9


def test_corrupted_generations_fail(split):
    root, recs = split
    gens = [r for r in recs if r["task"] == "generate"]
    flipped, recoloured, blurred = [], [], []
    for r in gens:
        scene = Scene.from_json(r["meta"]["scene"])
        img = _img(root, r["meta"]["target_image"])
        flipped.append(check_generated(img[::-1, ::-1].copy(), scene)["position"])
        swap = img.copy()
        for o, v in zip(scene.objects, scene.visible_masks):
            swap[v] = COLOURS["white" if o.colour != "white" else "red"]
        recoloured.append(check_generated(swap, scene)["colour"])
        blurred.append(check_generated(np.full_like(img, int(img.mean())), scene)["overall"])  # a blurred average
    assert np.mean(flipped) < 0.6
    assert np.mean(recoloured) < 0.2
    assert np.mean(blurred) == 0.0


def test_edits(split):
    root, recs = split
    edits = [r for r in recs if r["task"] == "edit"]
    right, unchanged, psnrs = [], [], []
    for r in edits:
        before = _img(root, r["images"][0])
        target = _img(root, r["meta"]["target_image"])
        scene = Scene.from_json(r["meta"]["edited_scene"])
        ok, db = check_edited(target, before, target, scene)
        right.append(ok)
        psnrs.append(db)
        unchanged.append(check_edited(before, before, target, scene)[0])
    assert np.mean(right) >= 0.85
    assert min(psnrs) == 100.0  # the reference edit leaves the untouched region exactly as it was
    assert np.mean(unchanged) <= 0.1  # returning the input unedited is not an edit
    noisy = np.clip(before.astype(int) + np.random.default_rng(0).integers(-40, 41, before.shape), 0, 255)
    assert check_edited(noisy.astype(np.uint8), before, target, scene)[1] < 25


def test_untouched_region_excludes_the_change():
    a = np.zeros((10, 10, 3), np.uint8)
    b = a.copy()
    b[5, 5] = 200
    region = untouched_region(a, b, margin=1)
    assert not region[4:7, 4:7].any() and region[0, 0] and region.sum() == 100 - 9


def test_bad_images_are_named():
    scene = Scene.from_json({"width": 8, "height": 8, "background": {"kind": "plain", "tone": [1, 1, 1],
                             "tone2": [1, 1, 1]}, "objects": []})  # fmt: skip
    with pytest.raises(ValueError, match="generated image"):
        check_generated(np.zeros((8, 8), np.uint8), scene)

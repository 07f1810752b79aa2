"""scripts/geometry_probe.py draws what it claims: every question has one answer, boxes match the pixels."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from vistakit.data.shapesworld.scene import COLOURS

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "geometry_probe.py"


@pytest.fixture(scope="module")
def probe():
    spec = importlib.util.spec_from_file_location("geometry_probe", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the script runs
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.modules.pop(spec.name, None)


@pytest.mark.parametrize("geometry", [(64, 64), (160, 96), (96, 144)])
def test_scenes_have_unique_answers_and_boxes_on_their_pixels(probe, geometry):
    w, h = geometry
    rng = np.random.default_rng(0)
    for _ in range(20):
        image, things = probe.draw_scene(w, h, rng, 0.12)
        assert image.shape == (h, w, 3) and image.dtype == np.uint8
        assert 1 <= len(things) <= 4
        assert len({t.colour for t in things}) == len(things) == len({t.shape for t in things})
        assert not any((t.colour, t.shape) == ("purple", "star") for t in things)
        for t in things:
            x0, y0, x1, y1 = (int(v) for v in t.box)
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
            # the box's centre pixel lies inside a convex-ish shape: close to the object's colour, not the background
            px = image[(y0 + y1) // 2, (x0 + x1) // 2].astype(int)
            dist = {c: np.abs(px - np.asarray(rgb)).max() for c, rgb in COLOURS.items()}
            if t.shape != "star":  # a star's centre is inside too, but its thin arms make the check loose
                assert dist[t.colour] <= 0.12 * 255 + 1, (t, px)
        for kind, prompt, task, truth in probe.questions(image, things, rng):
            assert task in ("rec", "vqa") and prompt.endswith("?")


def test_bad_arguments_are_one_line_errors(probe, capsys):
    assert probe.main(["--geometries", "160by96"]) == 2
    assert "--geometries must be WIDTHxHEIGHT" in capsys.readouterr().err
    assert probe.main(["--n", "0"]) == 2

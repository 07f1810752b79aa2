"""Shade jitter: every shade stays inside its colour's region and reads as that colour only."""

import numpy as np
import pytest

from vistakit.data.shapesworld.scene import COLOURS
from vistakit.data.shapesworld.shades import SHADE_RANGES, sample_shade


def test_every_colour_has_a_region_holding_its_canonical_rgb_and_no_other():
    assert set(SHADE_RANGES) == set(COLOURS)
    for name, rgb in COLOURS.items():
        assert [c for c, box in SHADE_RANGES.items() if box.contains(rgb)] == [name]


@pytest.mark.parametrize("colour", list(COLOURS))
def test_full_jitter_stays_in_the_colour_region(colour):
    rng = np.random.default_rng(0)
    shades = {sample_shade(colour, COLOURS[colour], rng, 1.0) for _ in range(400)}
    assert len(shades) > 50  # it does jitter
    for rgb in shades:
        assert SHADE_RANGES[colour].contains(rgb, tol=0.01), rgb  # rounding to 0..255 may step just outside
        assert not [c for c, box in SHADE_RANGES.items() if c != colour and box.contains(rgb)], rgb


def test_moderate_jitter_keeps_the_nearest_canonical_colour():
    names, table = list(COLOURS), np.array(list(COLOURS.values()), float)
    rng = np.random.default_rng(1)
    for colour in names:
        for _ in range(300):
            rgb = np.array(sample_shade(colour, COLOURS[colour], rng, 0.5), float)
            assert names[int(np.argmin(((table - rgb) ** 2).sum(axis=1)))] == colour, (colour, rgb)


def test_no_jitter_is_the_canonical_colour():
    rng = np.random.default_rng(2)
    for colour, rgb in COLOURS.items():
        assert sample_shade(colour, rgb, rng, 0.0) == rgb

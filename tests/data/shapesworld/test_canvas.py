"""Image geometries: parsing, random sizes inside their bounds, and fixed geometries that draw nothing."""

import numpy as np
import pytest

from vistakit.data.shapesworld.canvas import Geometry


def test_parse_forms_and_names():
    assert Geometry.parse("64").fixed == (64, 64)
    assert Geometry.parse(" 160X96 ").fixed == (160, 96)
    assert str(Geometry.parse("96x144")) == "96x144"
    rnd = Geometry.parse("random")
    assert rnd.fixed is None and (rnd.min_side, rnd.max_side, rnd.max_ratio) == (48, 256, 2.0)
    assert str(rnd) == "random"
    custom = Geometry.parse("random:32-160:3")
    assert (custom.min_side, custom.max_side, custom.max_ratio) == (32, 160, 3.0) and str(custom) == "random:32-160:3"


@pytest.mark.parametrize("bad", ["", "64x", "x64", "wide", "random:48-256", "-64", "64x64x3", "random:300-100:2"])
def test_bad_geometries_are_refused_with_the_accepted_forms(bad):
    with pytest.raises(ValueError, match="geometry must be|min side <= max side"):
        Geometry.parse(bad)


def test_sides_outside_the_scene_limits_are_refused():
    with pytest.raises(ValueError, match="image sides must be 16..1024 pixels, got 8 and 64"):
        Geometry.parse("8x64")


def test_random_sizes_stay_in_bounds_and_cover_both_orientations():
    geo = Geometry.parse("random")
    rng = np.random.default_rng(0)
    sizes = np.array([geo.sample(rng) for _ in range(2000)])
    assert sizes.min() >= 48 and sizes.max() <= 256
    ratio = sizes.max(axis=1) / sizes.min(axis=1)
    assert ratio.max() <= 2.0 + 1 / 48  # rounding to whole pixels may add under one pixel
    assert ratio.max() > 1.9 and (ratio < 1.05).mean() > 0.02  # near 2:1 and near square both happen
    assert (sizes[:, 0] > sizes[:, 1]).mean() > 0.4 and (sizes[:, 0] < sizes[:, 1]).mean() > 0.4
    assert sizes.max() > 240 and sizes.min() < 52


def test_fixed_geometry_draws_nothing():
    rng = np.random.default_rng(3)
    before = rng.bit_generator.state
    assert Geometry.parse("160x96").sample(rng) == (160, 96)
    assert rng.bit_generator.state == before

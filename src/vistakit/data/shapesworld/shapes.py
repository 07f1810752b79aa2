"""Shape outlines and their exact masks.

Every shape is a closed polygon built from a unit outline (a ring around the origin with circumradius 1), scaled
by ``radius`` pixels, rotated by ``rotation`` radians and moved to ``center``. Coordinates are continuous pixels of
the image (x right, y down; pixel (i, j) covers [i, i+1) × [j, j+1)), so the mask
:func:`shape_mask` returns is exactly the set of pixels the renderer paints.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ...geometry.polygons import rasterize_rings
from ...registry import Registry

Outline = Callable[[], np.ndarray]
OUTLINES: Registry[Outline] = Registry("shape")

_CIRCLE_VERTICES = 48


def _regular(n: int, phase: float = -np.pi / 2) -> np.ndarray:
    """n×2 vertices of a regular n-gon with circumradius 1, the first vertex pointing up (y down)."""
    a = phase + np.arange(n) * (2 * np.pi / n)
    return np.stack([np.cos(a), np.sin(a)], axis=1)


@OUTLINES.register("circle")
def _circle() -> np.ndarray:
    return _regular(_CIRCLE_VERTICES)


@OUTLINES.register("square")
def _square() -> np.ndarray:
    # Circumradius 1 would make a square look bigger than a circle of the same "size"; 0.85 evens it out.
    return 0.85 * _regular(4, -np.pi / 4)


@OUTLINES.register("triangle")
def _triangle() -> np.ndarray:
    return _regular(3) + np.array([0.0, 0.15])  # centre the bounding box rather than the centroid


@OUTLINES.register("star")
def _star() -> np.ndarray:
    outer = _regular(5)
    inner = 0.45 * _regular(5, -np.pi / 2 + np.pi / 5)
    return np.stack([outer, inner], axis=1).reshape(-1, 2)


@OUTLINES.register("hexagon")
def _hexagon() -> np.ndarray:
    return _regular(6, 0.0)


SHAPES: tuple[str, ...] = tuple(OUTLINES.names())


def shape_polygon(shape: str, center: tuple[float, float], radius: float, rotation: float = 0.0) -> np.ndarray:
    """K×2 (x, y) vertices of ``shape`` in continuous pixels of the image.

    ``center`` is (x, y) in pixels, ``radius`` the circumradius in pixels (> 0), ``rotation`` radians
    (clockwise on screen, since y points down).
    """
    if not radius > 0:
        raise ValueError(f"shape radius must be > 0 pixels, got {radius!r}")
    unit = OUTLINES.get(shape)()
    c, s = np.cos(rotation), np.sin(rotation)
    rot = np.array([[c, s], [-s, c]])
    return unit @ rot * float(radius) + np.asarray(center, np.float64)


def shape_mask(
    shape: str, center: tuple[float, float], radius: float, rotation: float, size: tuple[int, int]
) -> np.ndarray:
    """H×W boolean mask (``size`` = (width, height)) of the pixels covered by the shape."""
    w, h = size
    return rasterize_rings([shape_polygon(shape, center, radius, rotation)], h, w)

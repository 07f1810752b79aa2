"""Shade jitter: each named colour may take any shade inside a documented HSV region of its own.

The regions (hue in degrees, saturation and value in [0, 1]) are disjoint between colours, each holds its colour's
canonical RGB (:data:`~.scene.COLOURS`), and all stay far from the backgrounds (saturation <= 0.3, value <= 0.85):
whatever the jitter, a shade reads as one colour name and one only. ``amount`` in [0, 1] moves a shade from the
canonical colour towards a point drawn uniformly in the region: 0 keeps the canonical colour, 1 may reach any
point of the region.

| colour | hue (°) | saturation | value |
|---|---|---|---|
| red | -8 .. 8 | 0.70 .. 1.00 | 0.65 .. 0.95 |
| orange | 27 .. 37 | 0.80 .. 1.00 | 0.85 .. 1.00 |
| yellow | 50 .. 60 | 0.75 .. 1.00 | 0.85 .. 1.00 |
| green | 105 .. 145 | 0.60 .. 0.90 | 0.50 .. 0.80 |
| blue | 212 .. 238 | 0.70 .. 1.00 | 0.75 .. 1.00 |
| purple | 265 .. 290 | 0.60 .. 0.90 | 0.65 .. 0.90 |
| white | any | 0.00 .. 0.06 | 0.92 .. 1.00 |
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ShadeRange:
    """The HSV box a named colour's shades stay in: ``hue`` degrees (may start below 0 for red), ``sat`` and
    ``val`` in [0, 1]."""

    hue: tuple[float, float]
    sat: tuple[float, float]
    val: tuple[float, float]

    def contains(self, rgb: tuple[int, int, int], tol: float = 0.0) -> bool:
        """Whether an RGB (0..255) shade lies in the box (``tol`` widens it: degrees / 360 and fraction units)."""
        h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
        if self.hue[1] - self.hue[0] < 360:
            deg = h * 360
            lo, hi = self.hue[0] - 360 * tol, self.hue[1] + 360 * tol
            if not any(lo <= d <= hi for d in (deg, deg - 360)):
                return False
        return self.sat[0] - tol <= s <= self.sat[1] + tol and self.val[0] - tol <= v <= self.val[1] + tol


SHADE_RANGES: dict[str, ShadeRange] = {
    "red": ShadeRange((-8, 8), (0.70, 1.0), (0.65, 0.95)),
    "orange": ShadeRange((27, 37), (0.80, 1.0), (0.85, 1.0)),
    "yellow": ShadeRange((50, 60), (0.75, 1.0), (0.85, 1.0)),
    "green": ShadeRange((105, 145), (0.60, 0.90), (0.50, 0.80)),
    "blue": ShadeRange((212, 238), (0.70, 1.0), (0.75, 1.0)),
    "purple": ShadeRange((265, 290), (0.60, 0.90), (0.65, 0.90)),
    "white": ShadeRange((0, 360), (0.0, 0.06), (0.92, 1.0)),
}


def _hsv(rgb: tuple[int, int, int], hue_lo: float) -> np.ndarray:
    """(hue degrees unwrapped to start at ``hue_lo``, saturation, value) of an RGB 0..255 colour."""
    h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
    deg = h * 360
    if deg - 360 >= hue_lo and deg > hue_lo + 360 / 2:  # red's hue wraps: 355° is -5°
        deg -= 360
    return np.array([deg, s, v])


def sample_shade(
    colour: str, canonical: tuple[int, int, int], rng: np.random.Generator, amount: float
) -> tuple[int, int, int]:
    """An RGB (0..255) shade of ``colour``: ``canonical`` moved by ``amount`` (0..1) towards a uniform point of
    the colour's :class:`ShadeRange`. Draws three numbers from ``rng``."""
    box = SHADE_RANGES[colour]
    lo = np.array([box.hue[0], box.sat[0], box.val[0]])
    hi = np.array([box.hue[1], box.sat[1], box.val[1]])
    target = rng.uniform(lo, hi)
    base = _hsv(canonical, box.hue[0])
    if box.hue[1] - box.hue[0] >= 360:  # white: hue is free (saturation ~0), take the target's
        base[0] = target[0]
    h, s, v = base + float(amount) * (target - base)
    r, g, b = colorsys.hsv_to_rgb((h % 360) / 360, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1)))
    return (int(round(r * 255)), int(round(g * 255)), int(round(b * 255)))

"""Image geometry of ShapesWorld scenes: a fixed width × height, or sizes and aspect ratios drawn per scene.

``Geometry.parse`` reads the generator's ``--geometry`` values:

- ``64`` or ``64x64`` — every image 64 × 64 (a number alone is a square side);
- ``160x96`` — every image 160 pixels wide and 96 high (fixed geometries make per-geometry test splits);
- ``random`` — each scene draws its own: the aspect ratio log-uniform in 1:2 .. 2:1, the shorter side uniform
  in 48 .. 256 / ratio, so both sides stay within 48 .. 256 pixels;
- ``random:MIN-MAX:RATIO`` — the same with other bounds, e.g. ``random:32-160:3``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

MIN_SIDE, MAX_SIDE = 16, 1024  # what any scene accepts
RANDOM_DEFAULT = (48, 256, 2.0)


@dataclass(frozen=True)
class Geometry:
    """Image sizes: ``fixed`` (width, height), or random with sides in ``[min_side, max_side]`` and the longer
    side at most ``max_ratio`` times the shorter."""

    fixed: tuple[int, int] | None = None
    min_side: int = RANDOM_DEFAULT[0]
    max_side: int = RANDOM_DEFAULT[1]
    max_ratio: float = RANDOM_DEFAULT[2]

    def __post_init__(self) -> None:
        sides = self.fixed if self.fixed is not None else (self.min_side, self.max_side)
        if not all(MIN_SIDE <= s <= MAX_SIDE for s in sides):
            raise ValueError(f"image sides must be {MIN_SIDE}..{MAX_SIDE} pixels, got {sides[0]} and {sides[1]}")
        if self.fixed is None and not (self.min_side <= self.max_side and self.max_ratio >= 1):
            raise ValueError(f"random geometry needs min side <= max side and a ratio >= 1, got "
                             f"{self.min_side}-{self.max_side}:{self.max_ratio}")  # fmt: skip

    @classmethod
    def square(cls, side: int) -> "Geometry":
        return cls((int(side), int(side)))

    @classmethod
    def parse(cls, text: str) -> "Geometry":
        """``64`` / ``160x96`` / ``random`` / ``random:48-256:2`` → a geometry; anything else raises
        ``ValueError`` naming the accepted forms."""
        t = str(text).strip().lower()
        if m := re.fullmatch(r"(\d+)(?:x(\d+))?", t):
            w = int(m[1])
            return cls((w, int(m[2]) if m[2] else w))
        if t == "random":
            return cls()
        if m := re.fullmatch(r"random:(\d+)-(\d+):(\d+(?:\.\d+)?)", t):
            return cls(None, int(m[1]), int(m[2]), float(m[3]))
        raise ValueError(f"geometry must be SIDE, WIDTHxHEIGHT (e.g. 160x96), 'random' or 'random:MIN-MAX:RATIO', "
                         f"got {text!r}")  # fmt: skip

    def __str__(self) -> str:
        if self.fixed is not None:
            return f"{self.fixed[0]}x{self.fixed[1]}"
        if (self.min_side, self.max_side, self.max_ratio) == RANDOM_DEFAULT:
            return "random"
        return f"random:{self.min_side}-{self.max_side}:{self.max_ratio:g}"

    def sample(self, rng: np.random.Generator) -> tuple[int, int]:
        """(width, height) of one image. A fixed geometry draws nothing from ``rng`` (so a square default split
        keeps the bytes it had before geometries existed); a random one draws two numbers."""
        if self.fixed is not None:
            return self.fixed
        ratio_cap = min(self.max_ratio, self.max_side / self.min_side)
        log_ratio = rng.uniform(-math.log(ratio_cap), math.log(ratio_cap))
        ratio = math.exp(abs(log_ratio))
        short = rng.uniform(self.min_side, self.max_side / ratio)
        long = min(self.max_side, max(self.min_side, int(round(short * ratio))))
        short = min(long, max(self.min_side, int(round(short))))
        return (long, short) if log_ratio >= 0 else (short, long)

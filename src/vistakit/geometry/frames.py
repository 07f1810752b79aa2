"""Coordinate frames shared by every geometry type.

Conventions (fixed project-wide):

* Coordinates are continuous, x to the right, y down. Pixel ``(col=i, row=j)`` covers the square
  ``[i, i+1) × [j, j+1)``; its centre is ``(i + 0.5, j + 0.5)``.
* A value is either **absolute** (pixels of its frame) or **normalised** (divided by the frame's width and
  height, so the frame spans ``[0, 1] × [0, 1]``).
* The **frame** says which image the numbers refer to: ``"original"`` (the image as the user gave it) or
  ``"model"`` (the resized + padded canvas the model saw; see :class:`~vistakit.geometry.transform.ImageTransform`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np


class Frame(str, Enum):
    ORIGINAL = "original"
    MODEL = "model"


@dataclass(frozen=True)
class Space:
    """Where coordinates live: a frame, its size in pixels and whether values are normalised.

    ``size`` is ``(width, height)`` in pixels of that frame; it may be ``None`` only for normalised values whose
    pixel size is unknown (they cannot be converted to pixels until it is given).
    """

    frame: Frame = Frame.ORIGINAL
    size: tuple[int, int] | None = None
    normalized: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "frame", Frame(self.frame))
        if self.size is not None:
            w, h = self.size
            if int(w) != w or int(h) != h or w <= 0 or h <= 0:
                raise ValueError(f"image size must be two positive integers (width, height), got {self.size!r}")
            object.__setattr__(self, "size", (int(w), int(h)))
        if not self.normalized and self.size is None:
            raise ValueError("absolute (pixel) coordinates need the frame's size (width, height)")

    def scale(self) -> np.ndarray:
        """(width, height) as a float array; raises if the size is unknown."""
        if self.size is None:
            raise ValueError("this space has no pixel size; give size=(width, height) to convert to pixels")
        return np.asarray(self.size, dtype=np.float64)

    def as_normalized(self) -> "Space":
        return Space(self.frame, self.size, True)

    def as_absolute(self) -> "Space":
        self.scale()
        return Space(self.frame, self.size, False)

    def describe(self) -> str:
        unit = "normalised" if self.normalized else "pixels"
        return f"{unit} of the {self.frame.value} image" + (f" {self.size[0]}x{self.size[1]}" if self.size else "")


def as_float_array(values, shape_tail: tuple[int, ...], what: str) -> np.ndarray:
    """Turn ``values`` into a float64 array of shape ``(N, *shape_tail)``, with a clear error otherwise."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} must be numeric, got {type(values).__name__}: {exc}") from None
    if arr.size == 0:
        arr = arr.reshape((0, *shape_tail))
    if arr.ndim == len(shape_tail):
        arr = arr[None]
    if arr.ndim != len(shape_tail) + 1 or tuple(arr.shape[1:]) != shape_tail:
        want = "N×" + "×".join(map(str, shape_tail))
        raise ValueError(f"{what} must have shape {want}, got {tuple(arr.shape)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} contains NaN or infinite values")
    return arr


def check_in_space(xy: np.ndarray, space: Space, what: str, tol: float = 1e-6) -> None:
    """Refuse normalised coordinates outside [0, 1]. Absolute ones may lie outside the frame (clip explicitly)."""
    if space.normalized and xy.size and (xy.min() < -tol or xy.max() > 1 + tol):
        raise ValueError(f"{what} are normalised but lie outside [0, 1] (min {xy.min():.4g}, max {xy.max():.4g})")

"""Axis-aligned boxes with an explicit format (xyxy / xywh) and coordinate space."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from .frames import Space, as_float_array, check_in_space


class BoxFormat(str, Enum):
    XYXY = "xyxy"  # (x1, y1, x2, y2): top-left and bottom-right corners
    XYWH = "xywh"  # (x, y, w, h): top-left corner and size (COCO's convention)


@dataclass(frozen=True)
class Boxes:
    """N boxes as an N×4 float64 array in ``fmt`` and ``space``.

    Construction validates the shape, finiteness, non-negative sizes and (for normalised values) the [0, 1]
    range. Use :meth:`to` / :meth:`xyxy` to convert; instances are immutable.
    """

    data: np.ndarray
    space: Space
    fmt: BoxFormat = BoxFormat.XYXY
    _checked: bool = field(default=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fmt = BoxFormat(self.fmt)
        object.__setattr__(self, "fmt", fmt)
        arr = as_float_array(self.data, (4,), f"boxes ({fmt.value})")
        if fmt is BoxFormat.XYXY:
            bad = (arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])
            if bad.any():
                i = int(np.argmax(bad))
                raise ValueError(f"xyxy box {i} has x2 < x1 or y2 < y1: {arr[i].tolist()}")
            check_in_space(arr, self.space, "box coordinates")
        else:
            if (arr[:, 2:] < 0).any():
                i = int(np.argmax((arr[:, 2:] < 0).any(1)))
                raise ValueError(f"xywh box {i} has a negative width or height: {arr[i].tolist()}")
            check_in_space(self._xyxy(arr), self.space, "box coordinates")
        arr.setflags(write=False)
        object.__setattr__(self, "data", arr)

    @staticmethod
    def _xyxy(arr: np.ndarray) -> np.ndarray:
        out = arr.copy()
        out[:, 2:] = arr[:, :2] + arr[:, 2:]
        return out

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, idx) -> "Boxes":
        return Boxes(np.atleast_2d(self.data[idx]), self.space, self.fmt)

    def xyxy(self) -> np.ndarray:
        """N×4 (x1, y1, x2, y2) in this box set's space."""
        return self.data.copy() if self.fmt is BoxFormat.XYXY else self._xyxy(self.data)

    def xywh(self) -> np.ndarray:
        if self.fmt is BoxFormat.XYWH:
            return self.data.copy()
        out = self.data.copy()
        out[:, 2:] = self.data[:, 2:] - self.data[:, :2]
        return out

    def to(self, fmt: BoxFormat | str | None = None, *, normalized: bool | None = None) -> "Boxes":
        """Convert format and/or normalisation (same frame)."""
        fmt = BoxFormat(fmt or self.fmt)
        xyxy = self.xyxy()
        space = self.space
        if normalized is not None and normalized != space.normalized:
            s = np.tile(space.scale(), 2)
            xyxy = xyxy / s if normalized else xyxy * s
            space = space.as_normalized() if normalized else space.as_absolute()
        out = Boxes(xyxy, space, BoxFormat.XYXY)
        return out if fmt is BoxFormat.XYXY else Boxes(out.xywh(), space, BoxFormat.XYWH)

    def area(self) -> np.ndarray:
        wh = self.xywh()[:, 2:]
        return wh[:, 0] * wh[:, 1]

    def centers(self) -> np.ndarray:
        b = self.xyxy()
        return (b[:, :2] + b[:, 2:]) / 2

    def clip(self) -> "Boxes":
        """Clip to the frame (absolute: [0, W]×[0, H]; normalised: [0, 1])."""
        b = self.xyxy()
        hi = np.ones(2) if self.space.normalized else self.space.scale()
        b[:, 0::2] = b[:, 0::2].clip(0, hi[0])
        b[:, 1::2] = b[:, 1::2].clip(0, hi[1])
        return Boxes(b, self.space).to(self.fmt)

    def iou(self, other: "Boxes") -> np.ndarray:
        """N×M IoU matrix; both sets must be in the same space."""
        if other.space != self.space:
            raise ValueError(f"cannot compare boxes in {self.space.describe()} with {other.space.describe()}")
        return box_iou_xyxy(self.xyxy(), other.xyxy())


def box_iou_xyxy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU between two arrays of xyxy boxes (N×4, M×4) → N×M. Empty unions give IoU 0."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod((rb - lt).clip(min=0), axis=-1)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=-1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)

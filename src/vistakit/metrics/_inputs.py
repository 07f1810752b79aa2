"""Input checks shared by the metric families: turn typed or array inputs into plain numpy, with clear errors.

Every metric takes ground truth and predictions in pixels of the ORIGINAL image. These helpers accept the
project's typed geometry (``Boxes``, ``Mask``, ``Points``) or plain arrays / COCO RLE dicts, and refuse
anything else with a message naming the sample and what was expected.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence, Sized

import numpy as np

from ..geometry.boxes import Boxes
from ..geometry.frames import as_float_array
from ..geometry.masks import Mask
from ..geometry.points import Points

NAN = float("nan")


def check_pairs(preds: Sized, golds: Sized, what: str) -> int:
    """The common sample count of ``preds`` and ``golds``; ValueError when they differ."""
    if len(preds) != len(golds):
        raise ValueError(f"{what}: got {len(preds)} predictions for {len(golds)} ground-truth samples; expected one each")
    return len(golds)


def mean_or_nan(values: Sequence[float] | np.ndarray) -> float:
    """Mean of ``values``; NaN (undefined, not zero) when there are none."""
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()) if arr.size else NAN


def ratio_or_nan(num: float, den: float) -> float:
    return float(num / den) if den else NAN


def as_xyxy(value: Any, what: str) -> np.ndarray:
    """N×4 float64 xyxy boxes from ``Boxes`` (converted to xyxy; must be absolute pixels) or an array-like."""
    if isinstance(value, Boxes):
        if value.space.normalized:
            raise ValueError(f"{what}: boxes are normalised; metrics expect pixels of the original image")
        return value.xyxy()
    arr = as_float_array(value, (4,), f"{what} (xyxy boxes)")
    if ((arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])).any():
        raise ValueError(f"{what}: xyxy boxes need x2 >= x1 and y2 >= y1, got {arr.tolist()}")
    return arr


def as_one_box(value: Any, what: str) -> np.ndarray | None:
    """A single xyxy box (shape (4,)) or None for a missing prediction; more than one box is an error."""
    if value is None:
        return None
    arr = as_xyxy(value, what)
    if len(arr) == 0:
        return None
    if len(arr) != 1:
        raise ValueError(f"{what}: expected one box, got {len(arr)}")
    return arr[0]


def as_points(value: Any, what: str) -> np.ndarray:
    """N×2 float64 (x, y) pixels from ``Points`` or an array-like."""
    if isinstance(value, Points):
        if value.space.normalized:
            raise ValueError(f"{what}: points are normalised; metrics expect pixels of the original image")
        return value.xy.copy()
    return as_float_array(value, (2,), f"{what} (points)")


def as_mask(value: Any, what: str, shape: tuple[int, int] | None = None) -> np.ndarray:
    """An H×W bool array from a ``Mask``, a 0/1 or bool array, or a COCO RLE dict (``size`` [h, w], ``counts``).

    ``None`` means an empty prediction and needs ``shape``. When ``shape`` (H, W) is given the mask must have it.
    """
    if value is None:
        if shape is None:
            raise ValueError(f"{what}: an empty (None) mask needs the image size")
        return np.zeros(shape, dtype=bool)
    if isinstance(value, Mask):
        arr = value.array
    elif isinstance(value, Mapping):
        try:
            arr = Mask.from_rle(value).array
        except ValueError as exc:
            raise ValueError(f"{what}: {exc}") from None
    else:
        arr = np.asarray(value)
        if arr.ndim != 2:
            raise ValueError(f"{what}: a mask must be an H×W array or a COCO RLE dict, got shape {arr.shape}")
        if arr.dtype != bool:
            if arr.size and not np.isin(np.unique(arr), (0, 1)).all():
                raise TypeError(f"{what}: a mask array must be boolean or 0/1, got values of dtype {arr.dtype}")
            arr = arr.astype(bool)
    if shape is not None and tuple(arr.shape) != tuple(shape):
        raise ValueError(f"{what}: mask is {arr.shape[0]}x{arr.shape[1]} (H×W), expected {shape[0]}x{shape[1]}")
    return arr


def check_size(size: Any, what: str) -> tuple[int, int]:
    """An image size (width, height) of two positive integers."""
    try:
        w, h = size
        ok = int(w) == w and int(h) == h and w > 0 and h > 0 and math.isfinite(w) and math.isfinite(h)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{what}: image size must be (width, height) with two positive integers, got {size!r}")
    return int(w), int(h)

"""Pointing metrics: is a predicted point inside the target mask; L1 distance between mouse traces.

* ``point_acc`` = fraction of samples whose predicted point (x, y), in pixels of the original image, falls on a
  foreground pixel of the gold mask: the pixel ``(row ⌊y⌋, col ⌊x⌋)`` (pixel (i, j) covers [i, i+1) × [j, j+1),
  the project convention). A point outside the image or a missing prediction (None) is a miss.
* ``trace_l1`` (lower is better): both traces are resampled to ``n`` points by linear interpolation at evenly
  spaced positions along their own point index (start and end kept; a one-point trace is constant), then
  ``mean over points of (|Δx| / W + |Δy| / H) / 2`` — the mean absolute difference of coordinates normalised by the
  original image's width and height, in [0, 1] for points inside the image. A missing or empty predicted trace
  scores ``MISSING_TRACE_L1`` = 1.0 (the worst in-image value); the result is the mean over samples.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..geometry.points import Trace
from ._inputs import as_mask, as_points, check_pairs, check_size, mean_or_nan

DEFAULT_TRACE_POINTS = 64
MISSING_TRACE_L1 = 1.0


def point_in_mask(point: Any, mask: Any) -> bool:
    """True when the (x, y) pixel point lies on a foreground pixel of the H×W mask (module docstring)."""
    if point is None:
        return False
    xy = as_points(point, "predicted point")
    if len(xy) != 1:
        raise ValueError(f"expected one predicted point, got {len(xy)}")
    m = as_mask(mask, "gold mask")
    col, row = int(np.floor(xy[0, 0])), int(np.floor(xy[0, 1]))
    return bool(0 <= row < m.shape[0] and 0 <= col < m.shape[1] and m[row, col])


def point_accuracy(preds: Sequence[Any], gold_masks: Sequence[Any]) -> float:
    """Mean of :func:`point_in_mask` over samples (``preds[i]``: one (x, y) point or None); NaN when empty."""
    n = check_pairs(preds, gold_masks, "point_accuracy")
    return mean_or_nan([point_in_mask(preds[i], gold_masks[i]) for i in range(n)])


def _trace_xy(trace: Any, what: str) -> np.ndarray:
    if isinstance(trace, Trace):
        if trace.space.normalized:
            raise ValueError(f"{what}: the trace is normalised; metrics expect pixels of the original image")
        return trace.xy.copy()
    return as_points(trace, what)


def resample_trace(xy: np.ndarray, n: int) -> np.ndarray:
    """N×2 → n×2 by linear interpolation at evenly spaced fractional indices (first and last points kept)."""
    if n < 1:
        raise ValueError(f"the number of resampled points must be >= 1, got {n}")
    if len(xy) == 0:
        raise ValueError("cannot resample an empty trace")
    src = np.linspace(0.0, 1.0, len(xy)) if len(xy) > 1 else np.zeros(1)
    dst = np.linspace(0.0, 1.0, n)
    if len(xy) == 1:
        return np.repeat(xy, n, axis=0)
    return np.stack([np.interp(dst, src, xy[:, 0]), np.interp(dst, src, xy[:, 1])], axis=1)


def trace_l1_one(pred: Any, gold: Any, image_size: tuple[int, int], n: int = DEFAULT_TRACE_POINTS) -> float:
    """Normalised L1 between one predicted and one gold trace (N×2 pixels or ``Trace``); see module docstring."""
    w, h = check_size(image_size, "trace_l1 image size")
    g = _trace_xy(gold, "gold trace")
    if len(g) == 0:
        raise ValueError("a gold trace must have at least one point")
    if pred is None:
        return MISSING_TRACE_L1
    p = _trace_xy(pred, "predicted trace")
    if len(p) == 0:
        return MISSING_TRACE_L1
    diff = np.abs(resample_trace(p, n) - resample_trace(g, n)) / np.array([w, h], dtype=np.float64)
    return float(diff.mean())


def trace_l1(
    preds: Sequence[Any], golds: Sequence[Any], image_sizes: Sequence[tuple[int, int]], n: int = DEFAULT_TRACE_POINTS
) -> float:
    """Mean :func:`trace_l1_one` over samples; ``image_sizes[i]`` is sample i's (width, height). NaN when empty."""
    count = check_pairs(preds, golds, "trace_l1")
    if len(image_sizes) != count:
        raise ValueError(f"trace_l1: got {len(image_sizes)} image sizes for {count} samples")
    return mean_or_nan([trace_l1_one(preds[i], golds[i], image_sizes[i], n) for i in range(count)])

"""Choosing N points per mask: uniform, VistaLLM's GAAS, and our adaptive sampler (the default).

Every sampler takes the dense external contours of one mask (largest first, K_i×2 continuous pixel
coordinates, see :func:`~vistakit.geometry.polygons.mask_contours`) and a budget ``n`` = total points for the
whole mask, and returns the rings to encode (each >= 3 points, together at most ``n`` points).
"""

from __future__ import annotations

from typing import Callable, Sequence

import cv2
import numpy as np

from ..registry import Registry

Sampler = Callable[[Sequence[np.ndarray], int], list[np.ndarray]]
SAMPLERS: Registry[Sampler] = Registry("point sampler")

DEFAULT_SAMPLER = "adaptive"
DEFAULT_POINTS = 32


def get_sampler(name: str) -> Sampler:
    return SAMPLERS.get(DEFAULT_SAMPLER if name == "default" else name)


def _check_budget(n: int) -> None:
    if not isinstance(n, (int, np.integer)) or n < 3:
        raise ValueError(f"the point budget n must be an integer >= 3 (one triangle), got {n!r}")


def resample_by_arc_length(ring: np.ndarray, n: int) -> np.ndarray:
    """``n`` points spaced evenly by arc length along the closed ring, starting at its first point."""
    closed = np.vstack([ring, ring[:1]])
    seg = np.hypot(*np.diff(closed, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    if cum[-1] == 0:
        return np.repeat(ring[:1], n, axis=0)
    s = np.arange(n) * (cum[-1] / n)
    return np.stack([np.interp(s, cum, closed[:, 0]), np.interp(s, cum, closed[:, 1])], axis=1)


@SAMPLERS.register("uniform")
def uniform_sampler(contours: Sequence[np.ndarray], n: int) -> list[np.ndarray]:
    """The classic baseline: ``n`` points evenly spaced by arc length on the largest contour only."""
    _check_budget(n)
    if not contours:
        return []
    return [resample_by_arc_length(contours[0], n)]


def chord_distance(ring: np.ndarray) -> np.ndarray:
    """Distance of each vertex of a closed ring to the chord joining its two neighbours."""
    prev, nxt = np.roll(ring, 1, axis=0), np.roll(ring, -1, axis=0)
    chord = nxt - prev
    length = np.hypot(chord[:, 0], chord[:, 1])
    cross = np.abs(chord[:, 0] * (ring[:, 1] - prev[:, 1]) - chord[:, 1] * (ring[:, 0] - prev[:, 0]))
    # Degenerate chord (neighbours coincide): fall back to the distance to that neighbour.
    fallback = np.hypot(*(ring - prev).T)
    return np.where(length > 1e-9, cross / np.where(length > 1e-9, length, 1), fallback)


@SAMPLERS.register("vistallm")
def vistallm_gaas_sampler(contours: Sequence[np.ndarray], n: int) -> list[np.ndarray]:
    """VistaLLM's gradient-aware adaptive sampling, as published (arXiv 2312.12423, Sec. 3.2).

    The largest contour is subsampled uniformly to M points (the paper's M = 40 for N = 32; we use
    M = max(40, ceil(1.25 N)) so larger budgets keep the same ratio), every point is scored by its distance to
    the chord between its two neighbours (how sharply the contour bends there), and the M - N lowest-scoring
    points are dropped in one pass. No re-scoring, one component.
    """
    _check_budget(n)
    if not contours:
        return []
    m = max(40, int(np.ceil(1.25 * n)))
    ring = resample_by_arc_length(contours[0], m)
    score = chord_distance(ring)
    keep = np.sort(np.argsort(-score, kind="stable")[:n])
    return [ring[keep]]


def _douglas_peucker(rings: Sequence[np.ndarray], eps: float) -> list[np.ndarray]:
    return [
        cv2.approxPolyDP(r.astype(np.float32).reshape(-1, 1, 2), eps, True).reshape(-1, 2).astype(np.float64)
        for r in rings
    ]


def _count(rings: Sequence[np.ndarray]) -> int:
    return sum(len(r) for r in rings if len(r) >= 3)


# Sub-pixel pre-simplification: drops the staircase points of the pixel contour (they carry no shape) so the
# budget search below runs on a few dozen vertices instead of hundreds.
_PRE_EPS = 0.5


@SAMPLERS.register("adaptive")
def adaptive_sampler(contours: Sequence[np.ndarray], n: int) -> list[np.ndarray]:
    """Our default: one point budget shared by all components, spent where the outline bends most.

    1. Every component's contour is pre-simplified at 0.5 px (removes pixel-staircase points only).
    2. One Douglas-Peucker tolerance ε is shared by *all* components and found by bisection as the smallest ε
       whose simplified rings fit in ``n`` points. A shared ε spends points where the error is largest anywhere
       in the mask (a tolerance in pixels, not a per-component quota), and re-scores after every split on the
       dense contour, unlike a one-pass score.
    3. Components that would simplify below a triangle are dropped; if even one triangle per component is over
       budget, the smallest components go first.

    Returns at most ``n`` points: a square needs 4, and the sampler does not pad.
    """
    _check_budget(n)
    rings = [r for r in _douglas_peucker(contours, _PRE_EPS) if len(r) >= 3][: n // 3]
    if _count(rings) <= n:
        return rings
    lo, hi = _PRE_EPS, 2.0
    while _count(_douglas_peucker(rings, hi)) > n and hi < 1e7:
        lo, hi = hi, hi * 2
    for _ in range(14):  # ε to within (hi - lo) / 2**14: far below a pixel on any real mask
        mid = (lo + hi) / 2
        if _count(_douglas_peucker(rings, mid)) > n:
            lo = mid
        else:
            hi = mid
    return [r for r in _douglas_peucker(rings, hi) if len(r) >= 3]

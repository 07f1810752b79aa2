"""Choosing N points per mask: uniform, VistaLLM's GAAS, and our adaptive sampler (the default).

Every sampler takes the external contours of one mask (largest first; K_i×2 or cv2's K_i×1×2 pixel
coordinates, see :func:`~vistakit.geometry.polygons.trace_contours`) and a budget ``n`` = total points for the
whole mask, and returns the rings to encode (K×2 arrays, each >= 3 points, together at most ``n`` points).
Samplers are translation invariant, so they may be given contours in crop coordinates.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import cv2
import numpy as np

from ..registry import Registry

Sampler = Callable[[Sequence[np.ndarray], int], list[np.ndarray]]
SAMPLERS: Registry[Sampler] = Registry("point sampler")

DEFAULT_SAMPLER = "adaptive"
DEFAULT_POINTS = 32


def get_sampler(name: str) -> Sampler:
    """The sampler registered as ``name`` (``"default"`` names the default)."""
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
    if not len(contours):
        return []
    return [resample_by_arc_length(np.asarray(contours[0], np.float64).reshape(-1, 2), n)]


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
    if not len(contours):
        return []
    m = max(40, int(np.ceil(1.25 * n)))
    ring = resample_by_arc_length(np.asarray(contours[0], np.float64).reshape(-1, 2), m)
    score = chord_distance(ring)
    keep = np.sort(np.argsort(-score, kind="stable")[:n])
    return [ring[keep]]


def _count(rings: Sequence[np.ndarray]) -> int:
    return sum(len(r) for r in rings if len(r) >= 3)


# The finest tolerance used: below half a pixel, Douglas-Peucker only keeps the staircase of the pixel grid.
_MIN_EPS = 0.5
# The first probe: one pixel removes the staircase on any outline; most small masks fit the budget there.
_FIRST_EPS = 1.0
_MAX_STEPS = 12


@SAMPLERS.register("adaptive")
def adaptive_sampler(contours: Sequence[np.ndarray], n: int) -> list[np.ndarray]:
    """Our default: one point budget shared by all components, spent where the outline deviates most.

    One Douglas-Peucker tolerance ε is shared by *all* components and searched for the smallest ε >= 0.5 px
    whose simplified rings fit in ``n`` points. Douglas-Peucker re-scores every remaining stretch of the
    dense contour after each split (unlike a one-pass score), and a shared ε spends points wherever in the mask
    the error is largest: a big component gets many points, a small blob three. Components that would simplify
    below a triangle are dropped; if even one triangle per component is over budget, the smallest go first.

    The search: probe ε = 1 px; then secant steps on log(count) vs log(ε) (seeded by the count ∝ ε^-1/2 law
    of smooth curves) inside a bracket that always ends within budget. Each step above an over-budget ε runs on
    that ε's (already shorter) outline rather than the dense one, so a step costs O(n), not O(contour).
    Returns at most ``n`` points (a square needs 4; the sampler does not pad); the search stops once the count
    is within max(1, n/8) of ``n``.
    """
    _check_budget(n)
    approx = cv2.approxPolyDP
    work = [c if c.dtype in (np.int32, np.float32) else c.astype(np.float32) for c in contours[: n // 3]]
    work = [c.reshape(-1, 1, 2) for c in work if len(c) >= 3]
    if _count(work) <= n:
        return [c.reshape(-1, 2) for c in work]
    tol = max(1, n // 8)
    lo, c_lo, hi, c_hi, best = 0.0, 0, None, 0, None  # invariant: count(lo) > n >= count(hi)
    eps = _FIRST_EPS
    for _ in range(_MAX_STEPS):
        out = [approx(r, eps, True) for r in work]
        count = sum(map(len, out))  # may count a collapsed (< 3 point) ring: errs on the safe side
        if count > n:
            # Larger tolerances then run on this coarser outline instead of the dense one (Hausdorff cost <= lo).
            lo, c_lo, work = eps, count, [r for r in out if len(r) >= 3]
        else:
            hi, c_hi, best = eps, count, out
            if count >= n - tol or eps <= _MIN_EPS:
                break
        if hi is None:
            eps = max(1.5 * lo, lo * (count / n) ** 2)
        elif lo == 0.0:
            eps = max(_MIN_EPS, hi / 2)
        elif c_hi > 0 and c_lo > c_hi:  # secant on log-log, kept inside the bracket
            slope = math.log(c_lo / c_hi) / math.log(hi / lo)
            eps = lo * (c_lo / (n - tol / 2)) ** (1 / slope)
            eps = min(max(eps, lo + 0.1 * (hi - lo)), hi - 0.1 * (hi - lo))
        else:
            eps = (lo * hi) ** 0.5
    if best is None:  # not converged within the step budget: a tolerance above the mask's size always fits
        best = [approx(r, 1e6, True) for r in work]
    rings = [r.reshape(-1, 2) for r in best if len(r) >= 3]
    if not rings:  # the budget is below what any ε gives (e.g. a rectangle with n = 3): keep the sharpest corners
        ring = work[0].reshape(-1, 2).astype(np.float64)
        rings = [ring[np.sort(np.argsort(-chord_distance(ring), kind="stable")[:3])]]
    return rings

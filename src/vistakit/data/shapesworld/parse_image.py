"""The renderer's inverse: a ShapesWorld-style image → the objects it shows (colour, shape, where, how big).

This is how generated and edited images are checked against their prompt (GenEval's idea: detect what the
image shows and compare it with what was asked; :mod:`vistakit.tasks.generate`). ShapesWorld's named colours are
far apart in RGB and its backgrounds are low-saturation greys, so objects can be read from pixels alone:

1. every pixel within ``max_distance`` (Euclidean RGB) of a named colour takes that colour, every other pixel is
   background (named colours are at least 85 apart, so the bands never overlap);
2. each colour's 8-connected components of at least ``min_area`` of the image are objects;
3. each object's shape is the outline (from :data:`~vistakit.data.shapesworld.shapes.OUTLINES`) that, placed at
   the component's centroid with the component's area and the best of a grid of rotations, overlaps it best
   (IoU); a component that no outline fits (IoU < ``min_fit``) and that fills less than ``figure_solidity`` of
   its convex hull is a stick figure, else it keeps its best outline.

Coordinates are pixels of the image (x right, y down). Two touching objects of one colour read as one object; a
heavily occluded object may read as the wrong shape — the checker is exact on the renderer's own images
(tests), not on every conceivable one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

import cv2
import numpy as np

from ...geometry.polygons import rasterize_rings
from .scene import COLOURS, FIGURE
from .shapes import OUTLINES, SHAPES

# Rotational symmetry of each outline (the rotations worth trying lie in [0, 2π / k)); unknown outlines get 1.
_SYMMETRY = {"circle": 0, "square": 4, "triangle": 3, "star": 5, "hexagon": 6}
_ROTATION_STEP = np.deg2rad(3.0)
_SEARCH_ROUNDS = 24  # moves or step halvings of the local search
_HIDDEN_COST = 0.3
_TOUCH = 0.47  # measured on the renderer: extra pixels per unit of perimeter (tests/data/shapesworld)


@dataclass(frozen=True)
class SeenObject:
    """One object read from an image: ``colour`` and ``shape`` names, ``box`` xyxy in pixels of the image
    (exclusive right/bottom edges), ``centroid`` (x, y) of its pixels, ``area`` in pixels, ``fit`` the IoU of
    its best outline (0 for figures), ``mask`` H×W bool."""

    colour: str
    shape: str
    box: tuple[int, int, int, int]
    centroid: tuple[float, float]
    area: int
    fit: float
    mask: np.ndarray

    @property
    def box_center(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        return ((x0 + x1) / 2, (y0 + y1) / 2)


@lru_cache(maxsize=None)
def _unit_outline(shape: str) -> tuple[np.ndarray, float, float]:
    """The outline's vertices moved so their area centroid is the origin, its area and its perimeter
    (circumradius 1)."""
    v = OUTLINES.get(shape)()
    x, y = v[:, 0], v[:, 1]
    x1, y1 = np.roll(x, -1), np.roll(y, -1)
    cross = x * y1 - x1 * y
    area = cross.sum() / 2
    cx = ((x + x1) * cross).sum() / (6 * area)
    cy = ((y + y1) * cross).sum() / (6 * area)
    perimeter = float(np.linalg.norm(v - np.roll(v, -1, 0), axis=1).sum())
    return v - np.array([cx, cy]), abs(float(area)), perimeter


def colour_labels(image: np.ndarray, palette: Mapping[str, tuple[int, int, int]], max_distance: float) -> np.ndarray:
    """H×W int array: the index (into ``palette``) of each pixel's named colour, -1 for background."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an H×W×3 RGB image, got shape {image.shape}")
    rgb = np.asarray(list(palette.values()), np.float32)  # C×3
    d = np.linalg.norm(image.astype(np.float32)[:, :, None, :] - rgb[None, None], axis=-1)  # H×W×C
    best = d.argmin(-1)
    return np.where(np.take_along_axis(d, best[..., None], -1)[..., 0] <= max_distance, best, -1)


def fit_shape(
    mask: np.ndarray, shapes: tuple[str, ...] = SHAPES, hidden: np.ndarray | None = None
) -> tuple[str, float]:
    """The outline that best overlaps ``mask`` (H×W bool, one object) and its IoU.

    ``hidden`` (H×W bool, optional): pixels of other objects, which may hide part of this one; they count neither
    for nor against a fit (so an occluded circle still fits a circle). Each outline starts at the mask's centroid
    with its area-matched radius and the best of a grid of rotations, then a local search moves its centre,
    radius and rotation while the IoU improves.
    """
    ys, xs = np.nonzero(mask)
    area = len(xs)
    if area == 0:
        return "", 0.0
    cx, cy = xs.mean() + 0.5, ys.mean() + 0.5  # centroid in continuous pixels (pixel i covers [i, i+1))
    starts = [(0.0, 0.0, 1.0)]  # (centre shift, centre shift, radius), in units of the area-matched radius
    if hidden is not None:
        near = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8), iterations=2).astype(bool) & hidden
        if near.any():  # part of it may be hidden there: the true centre lies that way, the true radius is larger
            hy, hx = np.nonzero(near)
            d = np.array([hx.mean() + 0.5 - cx, hy.mean() + 0.5 - cy])
            d = d / (np.linalg.norm(d) + 1e-9)
            starts = [(t * d[0], t * d[1], g) for t in (0.0, 0.15, 0.3) for g in (1.0, 1.15, 1.3)]
    best, best_iou = "", 0.0
    for shape in shapes:
        unit, unit_area, perimeter = _unit_outline(shape)
        # The renderer fills every pixel an outline touches, so a mask holds about half a pixel more per unit
        # of perimeter than the polygon's area: area ≈ A·r² + 0.47·P·r, solved for r.
        b = _TOUCH * perimeter
        r0 = float((-b + np.sqrt(b * b + 4 * unit_area * area)) / (2 * unit_area))
        pad = int(np.ceil(1.5 * r0)) + 3
        x0, y0 = max(0, int(cx) - pad), max(0, int(cy) - pad)
        x1, y1 = min(mask.shape[1], int(cx) + pad + 1), min(mask.shape[0], int(cy) + pad + 1)
        crop = mask[y0:y1, x0:x1]
        # a template pixel over another object costs a fraction of one over background: it may be hidden there
        cost = np.where(hidden[y0:y1, x0:x1], _HIDDEN_COST, 1.0) if hidden is not None else np.ones(crop.shape)
        outside = area - int(crop.sum())  # object pixels beyond the window count against every fit

        def iou(dx: float, dy: float, r: float, a: float) -> float:
            c, s = np.cos(a), np.sin(a)
            ring = unit @ np.array([[c, s], [-s, c]]) * r + np.array([cx - x0 + dx, cy - y0 + dy])
            tmpl = rasterize_rings([ring], y1 - y0, x1 - x0)
            inter = int((tmpl & crop).sum())
            extra = float(cost[tmpl & ~crop].sum())
            return inter / (inter + extra + area - inter + outside + 1e-9)

        k = _SYMMETRY.get(shape, 1)
        angles = [0.0] if k == 0 else np.arange(0.0, 2 * np.pi / k, _ROTATION_STEP)
        score, p = -1.0, [0.0, 0.0, r0, 0.0]
        for start in starts:  # an occluded object's centroid and area are biased: start from several guesses
            dx, dy, r = start[0] * r0, start[1] * r0, start[2] * r0
            v, a0 = max((iou(dx, dy, r, a), a) for a in angles)
            if v > score:
                score, p = v, [dx, dy, r, a0]
        steps = [2.0, 2.0, 0.1 * r0, 0.0 if k == 0 else _ROTATION_STEP]
        for _ in range(_SEARCH_ROUNDS):
            moved = False
            for i in range(4):
                if steps[i] == 0.0:
                    continue
                for sign in (1.0, -1.0):
                    q = list(p)
                    q[i] += sign * steps[i]
                    v = iou(*q)
                    if v > score:
                        score, p, moved = v, q, True
                        break
            if not moved:
                steps = [st / 2 for st in steps]
        if score > best_iou:
            best, best_iou = shape, score
    return best, best_iou


def split_merged(mask: np.ndarray) -> list[np.ndarray]:
    """Two touching objects of one colour read as one component: split it at the neck between the peaks of its
    distance transform (a watershed from each peak). Returns ``[mask]`` when it has one peak."""
    m8 = mask.astype(np.uint8)
    dist = cv2.distanceTransform(m8, cv2.DIST_L2, 5)
    top = float(dist.max())
    if top < 2:
        return [mask]
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * int(top) + 1, 2 * int(top) + 1))
    peaks = (dist >= cv2.dilate(dist, kernel) - 1e-6) & (dist >= 0.5 * top)
    n, markers = cv2.connectedComponents(peaks.astype(np.uint8), connectivity=8)
    if n <= 2:
        return [mask]
    markers = markers.astype(np.int32)
    markers[~mask] = n  # the background is one more basin, so the watershed stays inside the mask
    relief = cv2.cvtColor(cv2.normalize(-dist, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    cv2.watershed(relief, markers)
    parts = [(markers == k) for k in range(1, n)]
    # watershed lines (-1) inside the mask go to the part of their nearest peak: give them to any touching part
    lines = (markers == -1) & mask
    for part in parts:
        part |= lines & cv2.dilate(part.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        lines &= ~part
    return [p & mask for p in parts if p.any()]


def parse_image(
    image: np.ndarray,
    palette: Mapping[str, tuple[int, int, int]] = COLOURS,
    shapes: tuple[str, ...] = SHAPES,
    max_distance: float = 40.0,
    min_area: float = 0.0025,
    min_fit: float = 0.6,
    figure_solidity: float = 0.55,
    split_below: float = 0.85,
) -> list[SeenObject]:
    """Every object ``image`` (H×W×3 uint8 RGB) shows, largest first. ``min_area`` is a fraction of the image."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 RGB image, got dtype {image.dtype}")
    labels = colour_labels(image, palette, max_distance)
    names = list(palette)
    h, w = labels.shape
    floor = max(4, int(np.ceil(min_area * h * w)))
    out: list[SeenObject] = []
    for k, name in enumerate(names):
        n, comp, stats, _ = cv2.connectedComponentsWithStats((labels == k).astype(np.uint8), connectivity=8)
        masks = [comp == j for j in range(1, n) if int(stats[j][4]) >= floor]
        others_all = labels >= 0
        for mask in _join_fragments(sorted(masks, key=lambda m: -int(m.sum())), others_all, shapes):
            others = others_all & ~mask
            shape, fit = fit_shape(mask, shapes, hidden=others)
            if fit < split_below:  # perhaps two touching objects of this colour
                parts = [p for p in split_merged(mask) if p.sum() >= floor]
                fits = [fit_shape(p, shapes, hidden=others | (mask & ~p)) for p in parts]
                if len(parts) > 1 and min(f for _, f in fits) > fit + 0.05:
                    for p, (sh, f) in zip(parts, fits):
                        out.append(_seen(name, sh, f, p))
                    continue
            if fit < min_fit:
                contour = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)[0]
                hull = cv2.contourArea(cv2.convexHull(np.concatenate(contour))) if contour else 0.0
                if hull > 0 and mask.sum() / hull < figure_solidity:
                    shape, fit = FIGURE, 0.0
            out.append(_seen(name, shape, fit, mask))
    return sorted(out, key=lambda o: -o.area)


def _join_fragments(masks: list[np.ndarray], coloured: np.ndarray, shapes: tuple[str, ...]) -> list[np.ndarray]:
    """An object cut in two by another one lying across it shows as two components of its colour: a small one
    joins a larger one when it reaches it through other objects' pixels alone (within half the larger one's
    radius) and the two together fit one outline about as well as the larger one alone. ``masks`` largest first;
    ``coloured``: every pixel of any named colour."""
    kept: list[np.ndarray] = []
    for m in masks:
        area = int(m.sum())
        joined = False
        for i, big in enumerate(kept):
            big_area = int(big.sum())
            if area > 0.4 * big_area:
                continue
            reach = max(1, int(0.5 * np.sqrt(big_area / np.pi)))
            grown = m.astype(np.uint8)
            through = (coloured & ~m & ~big) | m  # grow across other objects only, never the background
            for _ in range(reach):
                grown = cv2.dilate(grown, np.ones((3, 3), np.uint8)) & through.astype(np.uint8)
                if (cv2.dilate(grown, np.ones((3, 3), np.uint8)).astype(bool) & big).any():
                    break
            else:
                continue
            union = big | m
            hidden = coloured & ~union
            if fit_shape(union, shapes, hidden)[1] >= fit_shape(big, shapes, hidden | m)[1] - 0.02:
                kept[i] = union
                joined = True
                break
        if not joined:
            kept.append(m)
    return kept


def _seen(colour: str, shape: str, fit: float, mask: np.ndarray) -> SeenObject:
    ys, xs = np.nonzero(mask)
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    return SeenObject(colour, shape, box, (float(xs.mean()) + 0.5, float(ys.mean()) + 0.5), len(xs), float(fit), mask)

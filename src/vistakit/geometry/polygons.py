"""Polygons, and the mask ↔ polygon conversion (OpenCV contours out, rasterisation back).

Contours are the boundary-pixel centres found by ``cv2.findContours`` (so a polygon's vertices sit at
``(col + 0.5, row + 0.5)`` in continuous coordinates) and rasterisation fills every pixel the polygon touches
(``cv2.fillPoly`` with sub-pixel precision), so mask → dense contour → mask is exact for hole-free shapes.

Holes: only external contours are kept (``RETR_EXTERNAL``), so holes are filled on the way back. In COCO this
costs little (holes are rare and small) and keeps one polygon per component, as the grammar writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from .frames import Space, as_float_array, check_in_space
from .masks import Mask, foreground_bbox

# Components whose pixel area is below this are dropped when a mask becomes polygons: a blob this small costs
# at least 3 points (6 location tokens) yet moves IoU by well under a percent on all but tiny masks.
MIN_COMPONENT_AREA = 4

_SHIFT = 4  # cv2 sub-pixel bits used when rasterising (1/16 pixel)


@dataclass(frozen=True)
class Polygons:
    """One or more polygons (one per connected component), each K_i×2 (x, y), K_i >= 3, in ``space``."""

    rings: tuple[np.ndarray, ...]
    space: Space

    def __post_init__(self) -> None:
        rings = []
        for i, ring in enumerate(self.rings):
            arr = as_float_array(ring, (2,), f"polygon {i}")
            if len(arr) < 3:
                raise ValueError(f"polygon {i} has {len(arr)} points; a polygon needs at least 3")
            check_in_space(arr, self.space, f"polygon {i} coordinates")
            arr.setflags(write=False)
            rings.append(arr)
        object.__setattr__(self, "rings", tuple(rings))

    def __len__(self) -> int:
        return len(self.rings)

    def num_points(self) -> int:
        return sum(len(r) for r in self.rings)

    def to(self, *, normalized: bool) -> "Polygons":
        if normalized == self.space.normalized:
            return self
        s = self.space.scale()
        rings = tuple(r / s if normalized else r * s for r in self.rings)
        return Polygons(rings, self.space.as_normalized() if normalized else self.space.as_absolute())

    def to_coco(self) -> list[list[float]]:
        """COCO polygon segmentation (absolute pixels, pixel-edge convention as COCO uses)."""
        if self.space.normalized:
            raise ValueError("convert to absolute pixels (to(normalized=False)) before writing COCO polygons")
        return [r.reshape(-1).tolist() for r in self.rings]

    def rasterize(self) -> Mask:
        """Fill the polygons into a mask of the frame's size."""
        absolute = self.to(normalized=False)
        w, h = absolute.space.size
        return Mask(rasterize_rings(absolute.rings, h, w), absolute.space.frame)


def rasterize_rings(rings: Sequence[np.ndarray], height: int, width: int) -> np.ndarray:
    """Fill rings of continuous (x, y) pixel coordinates into an H×W bool array (union of the rings)."""
    canvas = np.zeros((height, width), np.uint8)
    for ring in rings:
        if len(ring) < 3:
            continue
        pts = np.round((np.asarray(ring, np.float64) - 0.5) * (1 << _SHIFT)).astype(np.int32)
        # One call per ring: a single multi-ring fillPoly would use even-odd filling and cut overlaps out.
        cv2.fillPoly(canvas, [pts], 1, lineType=cv2.LINE_8, shift=_SHIFT)
    return canvas.astype(bool)


def trace_contours(
    mask: np.ndarray, min_area: int = MIN_COMPONENT_AREA, bbox: tuple[int, int, int, int] | None = None
) -> tuple[list[np.ndarray], np.ndarray]:
    """External contours of a boolean H×W mask as cv2 gives them, largest component first, plus their offset.

    Returns ``(contours, offset)``: int32 K_i×1×2 pixel indices *of the crop* (``CHAIN_APPROX_SIMPLE``: straight
    runs keep only their ends, the polyline is unchanged) and the (x, y) to add to get continuous coordinates of
    the boundary-pixel centres. The mask is cropped to its foreground box (``bbox`` = ``(x0, y0, x1, y1)``
    pixel edges if known, e.g. ``Mask.bbox_hint``; else found by a scan) before ``cv2.findContours``, which is what
    makes this cheaper than a full-frame call. Components below ``min_area`` pixels are dropped (never the
    largest); 1-2 pixel specks become a small triangle inside their pixels.
    """
    if bbox is None:
        bbox = foreground_bbox(mask)
    if bbox is None or bbox[2] <= bbox[0] or bbox[3] <= bbox[1]:
        return [], np.zeros(2)
    x0, y0, x1, y1 = bbox
    crop = mask[y0:y1, x0:x1]  # a strided view: cv2 reads it in place, no copy
    crop = crop.view(np.uint8) if crop.dtype == bool else crop.astype(np.uint8)
    found, _ = cv2.findContours(crop, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    offset = np.array([x0 + 0.5, y0 + 0.5])
    if len(found) == 1:  # the common case: skip the area bookkeeping
        return [_as_ring(found[0])], offset
    # Pixel count of a component ~ polygon area through pixel centres + half the perimeter + 1.
    scored = sorted(((cv2.contourArea(c) + 0.5 * cv2.arcLength(c, True) + 1, c) for c in found), key=lambda t: -t[0])
    return [_as_ring(c) for i, (area, c) in enumerate(scored) if i == 0 or area >= min_area], offset


def mask_contours(
    mask: np.ndarray, min_area: int = MIN_COMPONENT_AREA, bbox: tuple[int, int, int, int] | None = None
) -> list[np.ndarray]:
    """External contours of a boolean H×W mask as K_i×2 float arrays of boundary-pixel centres (continuous
    coordinates of the mask's frame), largest component first. See :func:`trace_contours`."""
    contours, offset = trace_contours(mask, min_area, bbox)
    return [c.reshape(-1, 2) + offset for c in contours]


def start_at_top(ring: np.ndarray) -> np.ndarray:
    """The ring (K×2 or K×1×2, x y) rolled to start at its topmost vertex (smallest y; the leftmost of those),
    keeping its order. Where a traced outline starts depends on the tracer's internals (Douglas-Peucker keeps
    some vertex of the contour first); a written polygon should start where a reader can tell — PolyFormer, for
    one, starts its polygons at a fixed corner."""
    flat = ring.reshape(-1, 2)
    k = int(np.lexsort((flat[:, 0], flat[:, 1]))[0])
    return ring if k == 0 else np.roll(ring, -k, axis=0)


def _as_ring(contour: np.ndarray) -> np.ndarray:
    """A cv2 contour with at least 3 points; 1-2 pixel specks become a small triangle inside their pixels."""
    if len(contour) >= 3:
        return contour
    c = contour.reshape(-1, 2).astype(np.float32)
    if len(c) == 1:
        c = c + np.array([[0.0, 0.0], [0.25, 0.25], [-0.25, 0.25]], np.float32)
    else:
        c = np.vstack([c, c[:1] + 0.25])
    return c.reshape(-1, 1, 2)


def mask_to_polygons(mask: Mask, min_area: int = MIN_COMPONENT_AREA) -> Polygons:
    """Every external component of ``mask`` as a dense polygon (largest first), in absolute pixels.

    Components below ``min_area`` pixels are dropped (never the largest). An empty mask gives zero polygons.
    """
    return Polygons(tuple(mask_contours(mask.array, min_area, mask.bbox_hint)), mask.space)

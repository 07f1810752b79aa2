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
from .masks import Mask

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


def mask_contours(mask: np.ndarray, min_area: int = MIN_COMPONENT_AREA) -> list[np.ndarray]:
    """Dense external contours of a boolean H×W mask, largest component first.

    Returns K_i×2 float arrays of boundary-pixel centres (continuous coordinates). The mask is cropped to its
    bounding box before ``cv2.findContours``, which is what makes this cheaper than a full-frame call.
    Components with fewer than ``min_area`` pixels are dropped.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return []
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    crop = np.ascontiguousarray(mask[y0:y1, x0:x1], dtype=np.uint8)
    # A 1-pixel border keeps cv2 from treating the crop edge as a boundary it may skip.
    crop = cv2.copyMakeBorder(crop, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    found, _ = cv2.findContours(crop, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    offset = np.array([x0 - 1 + 0.5, y0 - 1 + 0.5])
    out = []
    for c in found:
        c = c.reshape(-1, 2)
        # Pixel count of the component ~ polygon area through pixel centres + half the perimeter + 1.
        area = cv2.contourArea(c) + 0.5 * cv2.arcLength(c, True) + 1
        if area >= min_area:
            out.append((area, c.astype(np.float64) + offset))
    out.sort(key=lambda t: -t[0])
    return [c for _, c in out]


def mask_to_polygons(mask: Mask, min_area: int = MIN_COMPONENT_AREA) -> Polygons:
    """Every external component of ``mask`` as a dense polygon (largest first), in absolute pixels.

    Components thinner than 3 contour points (1-2 pixel specks) are dropped along with those below
    ``min_area``. An empty mask gives zero polygons.
    """
    rings = [c for c in mask_contours(mask.array, min_area) if len(c) >= 3]
    return Polygons(tuple(rings), mask.space)


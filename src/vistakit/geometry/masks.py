"""Binary masks and their COCO run-length encoding (through pycocotools)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from .boxes import Boxes
from .frames import Frame, Space


@dataclass(frozen=True)
class Mask:
    """An H×W boolean mask in pixels of ``frame`` (its size is the array's shape).

    ``bbox_hint`` is the tight ``(x0, y0, x1, y1)`` pixel-edge box of the foreground when the source already knew
    it (masks decoded from RLE get it from ``pycocotools.mask.toBbox`` without touching pixels); encoders use it
    to crop without scanning the whole frame. ``None`` means unknown (computed by a scan when needed).
    """

    array: np.ndarray
    frame: Frame = Frame.ORIGINAL
    bbox_hint: tuple[int, int, int, int] | None = None

    def __post_init__(self) -> None:
        arr = np.asarray(self.array)
        if arr.ndim != 2 or 0 in arr.shape:
            raise ValueError(f"a mask must be a non-empty H×W array, got shape {arr.shape}")
        if arr.dtype != bool:
            if not np.isin(np.unique(arr), (0, 1)).all():
                raise ValueError("a mask must be boolean or contain only 0 and 1")
            arr = arr.astype(bool)
        # C order: pycocotools decodes to Fortran order, which makes every row-wise scan and cv2 call copy.
        object.__setattr__(self, "array", np.ascontiguousarray(arr))
        object.__setattr__(self, "frame", Frame(self.frame))
        if self.bbox_hint is not None:
            x0, y0, x1, y1 = (int(v) for v in self.bbox_hint)
            h, w = arr.shape
            if not (0 <= x0 <= x1 <= w and 0 <= y0 <= y1 <= h):
                raise ValueError(f"bbox_hint {self.bbox_hint} does not fit a {w}x{h} mask")
            object.__setattr__(self, "bbox_hint", (x0, y0, x1, y1))

    @property
    def height(self) -> int:
        return self.array.shape[0]

    @property
    def width(self) -> int:
        return self.array.shape[1]

    @property
    def space(self) -> Space:
        return Space(self.frame, (self.width, self.height), normalized=False)

    def area(self) -> int:
        return int(self.array.sum())

    def is_empty(self) -> bool:
        return not self.array.any()

    def bbox(self) -> Boxes:
        """Tight xyxy box around the foreground in pixels (pixel edges); a 0×0 box at the origin if empty."""
        box = self.bbox_hint or foreground_bbox(self.array)
        return Boxes([box or (0, 0, 0, 0)], self.space)

    def iou(self, other: "Mask") -> float:
        """IoU with another mask of the same size; two empty masks have IoU 1."""
        if other.array.shape != self.array.shape:
            raise ValueError(f"mask sizes differ: {self.array.shape} vs {other.array.shape}")
        return mask_iou(self.array, other.array)

    # --- COCO RLE codec -------------------------------------------------------------------------------
    def to_rle(self) -> dict[str, Any]:
        """COCO compressed RLE ``{"size": [h, w], "counts": str}`` (JSON-ready)."""
        rle = mask_utils.encode(np.asfortranarray(self.array.astype(np.uint8)))
        return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}

    @classmethod
    def from_rle(cls, rle: Mapping[str, Any], frame: Frame = Frame.ORIGINAL) -> "Mask":
        """From COCO RLE, compressed (``counts`` str/bytes) or uncompressed (``counts`` list of ints)."""
        if not isinstance(rle, Mapping) or "size" not in rle or "counts" not in rle:
            raise ValueError(f"an RLE must be a mapping with 'size' [h, w] and 'counts', got {rle!r:.80}")
        h, w = (int(v) for v in rle["size"])
        counts = rle["counts"]
        if isinstance(counts, list):
            if sum(counts) != h * w:
                raise ValueError(f"uncompressed RLE counts sum to {sum(counts)}, expected h*w = {h * w}")
            rle_c = mask_utils.frPyObjects({"size": [h, w], "counts": counts}, h, w)
        else:
            rle_c = {"size": [h, w], "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
        try:
            arr = mask_utils.decode(rle_c)
            x, y, bw, bh = (int(round(v)) for v in mask_utils.toBbox(rle_c))
        except Exception as exc:  # pycocotools raises bare Exceptions on corrupt strings
            raise ValueError(f"corrupt RLE counts: {exc}") from None
        if arr.shape != (h, w):
            raise ValueError(f"RLE counts decode to {arr.shape}, but its size says {(h, w)}")
        return cls(arr.astype(bool), frame, (x, y, x + bw, y + bh) if bw and bh else None)

    @classmethod
    def from_coco_segmentation(cls, segmentation: Any, height: int, width: int) -> "Mask":
        """From a COCO annotation's ``segmentation``: polygons ``[[x, y, ...], ...]`` or RLE (crowd)."""
        if isinstance(segmentation, Mapping):
            return cls.from_rle(segmentation)
        if not isinstance(segmentation, Sequence) or not segmentation:
            raise ValueError("COCO polygon segmentation must be a non-empty list of [x1, y1, x2, y2, ...] lists")
        polys = [list(map(float, p)) for p in segmentation if len(p) >= 6]
        if not polys:
            raise ValueError("COCO polygon segmentation has no polygon with at least 3 points")
        return cls.from_rle(mask_utils.merge(mask_utils.frPyObjects(polys, height, width)))



@dataclass(frozen=True)
class SoftMask:
    """Per-pixel foreground probabilities, an H×W float array in [0, 1] in pixels of ``frame`` — what a mask
    decoder paints on the model canvas before it is thresholded (:meth:`ImageTransform.soft_mask_to_original`
    resamples it to the original image, then thresholds; :meth:`box_xyxy` reads a painted box back)."""

    probs: np.ndarray
    frame: Frame = Frame.MODEL

    def __post_init__(self) -> None:
        arr = np.asarray(self.probs, np.float32)
        if arr.ndim != 2 or 0 in arr.shape:
            raise ValueError(f"a soft mask is an H×W array, got shape {arr.shape}")
        if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
            raise ValueError("soft mask probabilities must be finite and in [0, 1]")
        arr.setflags(write=False)
        object.__setattr__(self, "probs", arr)
        object.__setattr__(self, "frame", Frame(self.frame))

    def binary(self, threshold: float = 0.5) -> Mask:
        """The mask where the probability exceeds ``threshold``, in the same frame."""
        return Mask(self.probs > threshold, self.frame)

    def box_xyxy(self, threshold: float = 0.5) -> np.ndarray | None:
        """The pixel-edge box ``[x0, y0, x1, y1]`` (pixels of this frame) of the largest connected region above
        ``threshold`` — a painted box read back — or ``None`` when nothing is above it."""
        on = (self.probs > threshold).astype(np.uint8)
        n, _, stats, _ = cv2.connectedComponentsWithStats(on, connectivity=8)
        if n < 2:
            return None
        k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        x, y, w, h = (int(stats[k, i]) for i in (cv2.CC_STAT_LEFT, cv2.CC_STAT_TOP, cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT))
        return np.array([x, y, x + w, y + h], np.float64)

def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two boolean arrays of equal shape; 1.0 when both are empty."""
    inter = np.logical_and(a, b).sum()
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(inter / union)


def foreground_bbox(array: np.ndarray) -> tuple[int, int, int, int] | None:
    """Tight ``(x0, y0, x1, y1)`` pixel-edge box of the True pixels of a 2-D array, or None if there are none."""
    rows = np.flatnonzero(array.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(array[rows[0] : rows[-1] + 1].any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1

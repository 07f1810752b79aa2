"""Mask metrics: RES / GRES cIoU and gIoU, GRES N-acc / T-acc, co-segmentation Jaccard.

Masks are H×W in pixels of the original image: bool / 0-1 arrays, :class:`~vistakit.geometry.Mask`, or COCO
RLE dicts (``{"size": [h, w], "counts": str}``). A predicted mask may be None (an empty prediction); it then
takes the gold mask's size. A prediction of another size than its gold mask is an error, not resized.

* ``ciou`` (cumulative IoU) = Σ_i |P_i ∩ G_i| / Σ_i |P_i ∪ G_i| over all samples; 0 when every union is empty.
* ``giou`` (generalised / mean IoU) = mean_i IoU(P_i, G_i), where a sample whose prediction and gold are both
  empty (a correct "no target" answer in GRES) counts 1 and an empty union counts 1.
* GRES (gRefCOCO) adds ``n_acc`` = no-target samples (empty gold) predicted empty / no-target samples and
  ``t_acc`` = target samples not predicted empty / target samples; "empty" = no foreground pixel.
* Co-segmentation ``jaccard`` = mean over images of IoU(predicted foreground, gold foreground), the usual
  iCoseg / MSRC / PASCAL-VOC co-segmentation Jaccard index; an empty union counts 1.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ._inputs import NAN, as_mask, check_pairs, mean_or_nan, ratio_or_nan


def _pair(pred: Any, gold: Any, i: int) -> tuple[np.ndarray, np.ndarray]:
    g = as_mask(gold, f"gold mask of sample {i}")
    p = as_mask(pred, f"predicted mask of sample {i}", shape=g.shape)
    return p, g


def intersection_union(pred: Any, gold: Any) -> tuple[int, int]:
    """(|P ∩ G|, |P ∪ G|) in pixels for one sample; ``pred`` None = empty."""
    p, g = _pair(pred, gold, 0)
    return int(np.logical_and(p, g).sum()), int(np.logical_or(p, g).sum())


def _areas(preds: Sequence[Any], golds: Sequence[Any], what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-sample intersection, union, predicted area and gold area (int64 arrays of length N)."""
    n = check_pairs(preds, golds, what)
    out = np.zeros((4, n), dtype=np.int64)
    for i in range(n):
        p, g = _pair(preds[i], golds[i], i)
        out[:, i] = (np.logical_and(p, g).sum(), np.logical_or(p, g).sum(), p.sum(), g.sum())
    return out[0], out[1], out[2], out[3]


def _iou_per_sample(inter: np.ndarray, union: np.ndarray) -> np.ndarray:
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def res_metrics(preds: Sequence[Any], golds: Sequence[Any]) -> dict[str, float]:
    """RES metrics over samples: ``ciou`` and ``giou`` (definitions in the module docstring); NaN when no samples."""
    inter, union, _, _ = _areas(preds, golds, "res_metrics")
    if len(inter) == 0:
        return {"ciou": NAN, "giou": NAN}
    return {"ciou": ratio_or_nan(inter.sum(), union.sum()) if union.sum() else 0.0,
            "giou": mean_or_nan(_iou_per_sample(inter, union))}  # fmt: skip


def gres_metrics(preds: Sequence[Any], golds: Sequence[Any]) -> dict[str, float]:
    """GRES metrics: ``ciou``, ``giou``, ``n_acc``, ``t_acc``. A no-target sample has an all-zero gold mask.

    ``n_acc`` is NaN when no sample is no-target; ``t_acc`` is NaN when every sample is.
    """
    inter, union, pred_area, gold_area = _areas(preds, golds, "gres_metrics")
    if len(inter) == 0:
        return {"ciou": NAN, "giou": NAN, "n_acc": NAN, "t_acc": NAN}
    no_target = gold_area == 0
    return {
        "ciou": ratio_or_nan(inter.sum(), union.sum()) if union.sum() else 0.0,
        "giou": mean_or_nan(_iou_per_sample(inter, union)),
        "n_acc": ratio_or_nan(int((pred_area[no_target] == 0).sum()), int(no_target.sum())),
        "t_acc": ratio_or_nan(int((pred_area[~no_target] > 0).sum()), int((~no_target).sum())),
    }


def jaccard(preds: Sequence[Any], golds: Sequence[Any]) -> float:
    """Co-segmentation Jaccard: mean per-image IoU of predicted and gold foreground; NaN when no images.

    ``preds[i]`` / ``golds[i]`` are the masks of image i (flatten groups of images into one list).
    """
    inter, union, _, _ = _areas(preds, golds, "jaccard")
    return mean_or_nan(_iou_per_sample(inter, union))

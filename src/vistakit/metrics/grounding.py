"""Box grounding metrics: REC accuracy at IoU thresholds and centre accuracy; GREC N-acc / T-acc / F1 precision.

All boxes are xyxy in pixels of the original image (N×4 arrays or :class:`~vistakit.geometry.Boxes`).

* **REC** (one gold box per sample): ``acc50`` / ``acc75`` = fraction of samples whose predicted box has
  IoU >= 0.5 / 0.75 with the gold box (IoU exactly at the threshold counts, as in the RefCOCO evaluations);
  ``center_acc`` = fraction whose predicted box centre lies inside the gold box (edges inclusive).
  A missing prediction (None or an empty array) is wrong.
* **GREC** (gRefCOCO, Liu et al. CVPR 2023; zero, one or many gold boxes per sample):
  ``n_acc`` = no-target samples predicted empty / no-target samples;
  ``t_acc`` = target samples NOT predicted empty / target samples;
  ``f1_acc50`` = Precision@(F1=1, IoU>=0.5): a sample counts when its predictions and gold boxes match one to
  one at IoU >= 0.5 with no extra or missing box (maximum bipartite matching), or, for a no-target sample,
  when the prediction is empty.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..geometry.boxes import box_iou_xyxy
from ._inputs import NAN, as_one_box, as_xyxy, check_pairs, mean_or_nan, ratio_or_nan

REC_THRESHOLDS = {"acc50": 0.5, "acc75": 0.75}


def box_iou(pred: Any, gold: Any) -> float:
    """IoU of two single xyxy boxes (pixels); 0 when either is missing or the union is empty."""
    p, g = as_one_box(pred, "predicted box"), as_one_box(gold, "gold box")
    if p is None or g is None:
        return 0.0
    return float(box_iou_xyxy(p, g)[0, 0])


def center_inside(pred: Any, gold: Any) -> bool:
    """True when the centre of the predicted xyxy box lies inside the gold xyxy box (edges inclusive)."""
    p, g = as_one_box(pred, "predicted box"), as_one_box(gold, "gold box")
    if p is None or g is None:
        return False
    cx, cy = (p[0] + p[2]) / 2, (p[1] + p[3]) / 2
    return bool(g[0] <= cx <= g[2] and g[1] <= cy <= g[3])


def rec_accuracy(
    preds: Sequence[Any], golds: Sequence[Any], thresholds: dict[str, float] | None = None
) -> dict[str, float]:
    """REC metrics over samples: ``acc50``, ``acc75`` (or the given ``{name: IoU threshold}``) and ``center_acc``.

    ``preds[i]`` is one predicted box (shape (4,) or 1×4, or None when the model gave none); ``golds[i]`` one gold
    box. Values are fractions in [0, 1]; NaN when there are no samples.
    """
    n = check_pairs(preds, golds, "rec_accuracy")
    thresholds = REC_THRESHOLDS if thresholds is None else thresholds
    ious = np.array([box_iou(preds[i], golds[i]) for i in range(n)], dtype=np.float64)
    out = {name: mean_or_nan(ious >= t) for name, t in thresholds.items()}
    out["center_acc"] = mean_or_nan([center_inside(preds[i], golds[i]) for i in range(n)])
    return out


def max_matching(hit: np.ndarray) -> int:
    """Size of a maximum bipartite matching in an N×M boolean adjacency matrix (augmenting paths)."""
    match_of_col = [-1] * hit.shape[1]

    def augment(row: int, seen: list[bool]) -> bool:
        for col in np.flatnonzero(hit[row]):
            if not seen[col]:
                seen[col] = True
                if match_of_col[col] < 0 or augment(match_of_col[col], seen):
                    match_of_col[col] = row
                    return True
        return False

    return sum(augment(r, [False] * hit.shape[1]) for r in range(hit.shape[0]))


def grec_f1(pred: Any, gold: Any, iou_threshold: float = 0.5) -> float:
    """F1 of one GREC sample: predicted vs gold boxes matched one to one at IoU >= threshold.

    Both empty → 1 (a correct "no target" answer); exactly one empty → 0.
    """
    p = as_xyxy(np.zeros((0, 4)) if pred is None else pred, "predicted boxes")
    g = as_xyxy(gold, "gold boxes")
    if len(p) == 0 and len(g) == 0:
        return 1.0
    if len(p) == 0 or len(g) == 0:
        return 0.0
    tp = max_matching(box_iou_xyxy(p, g) >= iou_threshold)
    return 2 * tp / (len(p) + len(g))


def grec_metrics(preds: Sequence[Any], golds: Sequence[Any], iou_threshold: float = 0.5) -> dict[str, float]:
    """GREC metrics: ``n_acc``, ``t_acc`` and ``f1_acc50`` (Precision@(F1=1, IoU>=``iou_threshold``)).

    ``preds[i]``: M×4 predicted boxes (M may be 0; None = empty); ``golds[i]``: K×4 gold boxes (K = 0 for a
    no-target sample). ``n_acc`` is NaN when no sample is no-target, ``t_acc`` when none has a target.
    """
    n = check_pairs(preds, golds, "grec_metrics")
    pred_empty = [pred is None or len(as_xyxy(pred, f"predicted boxes of sample {i}")) == 0 for i, pred in enumerate(preds)]
    gold_empty = [len(as_xyxy(g, f"gold boxes of sample {i}")) == 0 for i, g in enumerate(golds)]
    no_target = [i for i in range(n) if gold_empty[i]]
    target = [i for i in range(n) if not gold_empty[i]]
    f1 = [grec_f1(preds[i], golds[i], iou_threshold) for i in range(n)]
    return {
        "n_acc": ratio_or_nan(sum(pred_empty[i] for i in no_target), len(no_target)),
        "t_acc": ratio_or_nan(sum(not pred_empty[i] for i in target), len(target)),
        "f1_acc50": mean_or_nan(np.isclose(f1, 1.0)) if n else NAN,
    }

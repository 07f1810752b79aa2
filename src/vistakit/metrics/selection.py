"""Choice metrics: exact-match accuracy (NLVR true/false, which-image) and AttCoSeg pair accuracy.

Images are 0-based indices. A missing prediction (None) is always wrong.

* ``accuracy`` = fraction of samples whose prediction equals the gold value (bools for NLVR, image indices
  for which-image; any hashable values compare with ``==``;
  a boolean never equals a number, so ``True`` does not match image 1).
* ``pair_acc`` = fraction of AttCoSeg samples whose predicted PAIR of images equals the gold pair as an
  unordered set ({2, 0} == {0, 2}); a prediction naming the same image twice or three images is wrong.
"""

from __future__ import annotations

from typing import Any, Collection, Sequence

import numpy as np

from ._inputs import check_pairs, mean_or_nan


def accuracy(preds: Sequence[Any], golds: Sequence[Any]) -> float:
    """Exact-match accuracy over samples (None predictions are wrong); NaN when there are no samples."""
    n = check_pairs(preds, golds, "accuracy")
    for i, g in enumerate(golds):
        if g is None:
            raise ValueError(f"accuracy: gold value of sample {i} is None; every sample needs a gold answer")
    return mean_or_nan([_same(preds[i], golds[i]) for i in range(n)])


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def _same(pred: Any, gold: Any) -> bool:
    # True == 1 in Python; a boolean answer must not match an image index or a count.
    return pred is not None and _is_bool(pred) == _is_bool(gold) and bool(pred == gold)


def _index(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be a non-negative image index (int), got {value!r}")
    return value


def image_selection_accuracy(preds: Sequence[int | None], golds: Sequence[int]) -> float:
    """Which-image accuracy: ``preds[i]`` (0-based image index or None) equals ``golds[i]``."""
    gold = [_index(g, f"gold image of sample {i}") for i, g in enumerate(golds)]
    pred = [None if p is None else _index(p, f"predicted image of sample {i}") for i, p in enumerate(preds)]
    return accuracy(pred, gold)


def pair_accuracy(preds: Sequence[Collection[int] | None], golds: Sequence[Collection[int]]) -> float:
    """AttCoSeg pair accuracy: the predicted image pair equals the gold pair (unordered); NaN when empty."""
    n = check_pairs(preds, golds, "pair_accuracy")
    hits = []
    for i in range(n):
        gold = [_index(g, f"gold image of sample {i}") for g in golds[i]]
        if len(set(gold)) != 2 or len(gold) != 2:
            raise ValueError(f"pair_accuracy: gold of sample {i} must be two different image indices, got {golds[i]!r}")
        pred = preds[i]
        if pred is None:
            hits.append(False)
            continue
        p = [_index(v, f"predicted image of sample {i}") for v in pred]
        hits.append(len(p) == 2 and set(p) == set(gold))
    return mean_or_nan(hits)

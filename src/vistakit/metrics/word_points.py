"""Word-point accuracy for pixel-aligned (grounded) captions: does each gold word get a point close to its own?

``preds[i]`` / ``golds[i]`` are sample i's lists of ``(word, (x, y))`` in pixels of the original image (words
already normalised by the caller). A gold word counts as hit when an unused predicted point **with the same
word** lies within ``radii[i]`` pixels (Euclidean) of the gold point; each predicted point is used once (gold
words are matched in order, to the nearest qualifying prediction). The score is hits / gold words over all
samples; NaN when there are no gold words.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ._inputs import NAN, check_pairs

WordPoint = tuple[str, Sequence[float]]


def word_point_hits(pred: Sequence[WordPoint], gold: Sequence[WordPoint], radius: float) -> int:
    """How many gold (word, point) pairs of one sample have a matching prediction (module docstring)."""
    if not (radius > 0):
        raise ValueError(f"radius must be a positive number of pixels, got {radius!r}")
    used = [False] * len(pred)
    hits = 0
    for word, xy in gold:
        g = np.asarray(xy, np.float64).reshape(2)
        best, best_d = -1, float(radius)
        for j, (pw, pxy) in enumerate(pred):
            if used[j] or pw != word:
                continue
            d = float(np.hypot(*(np.asarray(pxy, np.float64).reshape(2) - g)))
            if d <= best_d:
                best, best_d = j, d
        if best >= 0:
            used[best] = True
            hits += 1
    return hits


def word_point_accuracy(
    preds: Sequence[Sequence[WordPoint]], golds: Sequence[Sequence[WordPoint]], radii: Sequence[float]
) -> float:
    """Gold words hit / gold words over all samples; NaN when no sample has a gold word."""
    n = check_pairs(preds, golds, "word_point_accuracy")
    if len(radii) != n:
        raise ValueError(f"word_point_accuracy: {len(radii)} radii for {n} samples; expected one each")
    total = sum(len(g) for g in golds)
    if total == 0:
        return NAN
    return sum(word_point_hits(preds[i], golds[i], radii[i]) for i in range(n)) / total

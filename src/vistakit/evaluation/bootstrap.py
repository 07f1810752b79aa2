"""How sure is a metric, and is one model really better than another on the same records? (``vistakit score
--bootstrap N [--against PRED]``)

The records are resampled with replacement N times (Efron's bootstrap) and each metric is recomputed on every
resampled set; the interval is the central ``level`` share of those values (percentile interval). With a second
model's predictions on the same records (``base``), every resampled set is scored for both models and the
interval is that of the *difference* (paired bootstrap, as in Koehn 2004 for machine translation): it answers
"would this gap survive other test records of the same kind?", not "would it survive another training run" —
run-to-run spread needs several runs.

A task that gives per-record values (:meth:`Task.sample_scores`: the caption tasks' CIDEr-D, with the IDF weights
of the whole set, and ROUGE-L) is resampled from them, and its other metrics — corpus statistics such as BLEU-4
and METEOR, which would start a Java process per resampled set, or word-pooled ones — are left out; every other
task is resampled by calling :meth:`Task.score` on each resampled set (about 0.1 s for 300 ShapesWorld records).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..data.record import Record
from ..tasks.base import Prediction, Task


@dataclass(frozen=True)
class Interval:
    """A metric (or, paired, the difference model − base) with its bootstrap interval. ``better``: paired only,
    the share of resampled sets on which the model scored higher than the base (ties count half)."""

    metric: str
    value: float
    low: float
    high: float
    base: float | None = None
    better: float | None = None

    @property
    def difference(self) -> float | None:
        return None if self.base is None else self.value - self.base

    def to_json(self) -> dict[str, float | None]:
        """``{low, high}`` (paired: also ``base``, ``difference``, ``better``); NaN written as ``None``."""
        out = {"low": self.low, "high": self.high}
        if self.base is not None:
            out.update(base=self.base, difference=self.difference, better=self.better)
        return {k: None if v is None or math.isnan(v) else float(v) for k, v in out.items()}


def _values(task: Task, golds: list[Record], preds: list[Prediction]) -> tuple[dict[str, np.ndarray], list[str]]:
    """(metric → per-record values) for the mean metrics, and the names to recompute with ``task.score``."""
    fast = task.sample_scores(golds, preds) or {}
    slow = [] if fast else list(task.metric_names)
    return fast, slow


def bootstrap_intervals(
    task: Task,
    golds: Sequence[Record],
    preds: Sequence[Prediction],
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    base: Sequence[Prediction] | None = None,
) -> list[Interval]:
    """One :class:`Interval` per metric that can be resampled (see the module docstring). ``base``: another
    model's predictions for the same ``golds``, for paired intervals of the difference."""
    golds, preds = list(golds), list(preds)
    if resamples < 10:
        raise ValueError(f"resamples must be at least 10 for an interval, got {resamples}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be between 0 and 1 (e.g. 0.95), got {level}")
    if not golds:
        raise ValueError("no records to resample")
    task.check_aligned(golds, preds)
    models = [preds] if base is None else [preds, list(base)]
    if base is not None:
        task.check_aligned(golds, models[1])
    full = [task.score(golds, m) for m in models]
    per = [_values(task, golds, m) for m in models]
    names = [m for m in task.metric_names if m in per[0][0] or m in per[0][1]]
    rng = np.random.default_rng(seed)
    n = len(golds)
    draws = {m: np.full((resamples, len(models)), np.nan) for m in names}
    for r in range(resamples):
        idx = rng.integers(0, n, n)
        for k, (model, (fast, slow)) in enumerate(zip(models, per)):
            for m, v in fast.items():
                draws[m][r, k] = v[idx].mean()
            if slow:
                got = task.score([golds[i] for i in idx], [model[i] for i in idx])
                for m in slow:
                    draws[m][r, k] = got[m]
    out = []
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    for m in names:
        d = draws[m]
        if base is None:
            stat, value, base_value, better = d[:, 0], full[0][m], None, None
        else:
            stat, value, base_value = d[:, 0] - d[:, 1], full[0][m], full[1][m]
            ok = stat[np.isfinite(stat)]
            better = float(((ok > 0).sum() + 0.5 * (ok == 0).sum()) / len(ok)) if len(ok) else float("nan")
        ok = stat[np.isfinite(stat)]
        low, high = np.percentile(ok, q) if len(ok) else (float("nan"), float("nan"))
        out.append(Interval(m, float(value), float(low), float(high), base_value, better))
    return out


def format_intervals(intervals: Sequence[Interval], level: float, resamples: int) -> list[str]:
    """A table: metric, value, interval (or, paired, model, base, difference and its interval, share better)."""
    pct = f"{level:.0%}"
    if not intervals:
        return ["(no metric of this task can be resampled)"]
    w = max(len(i.metric) for i in intervals + [Interval("metric", 0, 0, 0)])
    if intervals[0].base is None:
        lines = [f"{'metric':<{w}}  {'value':>8}  {pct} interval ({resamples} resamples)"]
        lines += [f"{i.metric:<{w}}  {i.value:8.4f}  [{i.low:.4f}, {i.high:.4f}]" for i in intervals]
        return lines
    lines = [f"{'metric':<{w}}  {'model':>8}  {'base':>8}  {'diff':>8}  {pct} interval of diff   model better ({resamples} resamples)"]
    for i in intervals:
        lines.append(f"{i.metric:<{w}}  {i.value:8.4f}  {i.base:8.4f}  {i.difference:+8.4f}  "
                     f"[{i.low:+.4f}, {i.high:+.4f}]     {i.better:.0%} of them")  # fmt: skip
    return lines

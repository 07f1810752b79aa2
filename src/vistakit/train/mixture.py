"""Task-mixture sampling: per-task pools of records, a weight per task, and batches that are a pure function of
``(seed, step, micro_step)``.

Because a batch depends only on its step, a resumed run draws exactly the batches the uninterrupted run would
have drawn, with no sampler state to checkpoint. Each sample first picks a task with probability proportional to
its weight, then a record of that task uniformly (with replacement). Pools are held in memory (records are small;
images are read when a batch is collated).
"""

from __future__ import annotations

import hashlib
from typing import Iterable, Mapping, Sequence

import numpy as np

from ..data.record import Record


class TaskMixture:
    """Seeded task-mixture sampler over ``records``.

    ``weights``: task → weight (>= 0); tasks present but not listed get ``default_weight``. A weight named for a
    task that has no records raises ``ValueError`` (a typo would otherwise be silently ignored).
    """

    def __init__(
        self,
        records: Iterable[Record],
        weights: Mapping[str, float] | None = None,
        default_weight: float = 1.0,
        seed: int = 0,
    ) -> None:
        pools: dict[str, list[Record]] = {}
        for rec in records:
            pools.setdefault(rec.task, []).append(rec)
        if not pools:
            raise ValueError("no records to sample from; check the data folder, split and --tasks")
        weights = dict(weights or {})
        unknown = sorted(set(weights) - set(pools))
        if unknown:
            raise ValueError(
                f"mixture weights name task(s) {unknown} with no records; tasks in the data: {sorted(pools)}"
            )
        self.tasks: list[str] = sorted(pools)
        self.pools = pools
        w = np.array([float(weights.get(t, default_weight)) for t in self.tasks], np.float64)
        if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise ValueError(
                f"mixture weights must be >= 0 with a positive sum, got {dict(zip(self.tasks, w.tolist()))}"
            )
        self.probabilities = w / w.sum()
        self.seed = int(seed)

    def __len__(self) -> int:
        return sum(len(p) for p in self.pools.values())

    def sizes(self) -> dict[str, int]:
        """Records per task."""
        return {t: len(self.pools[t]) for t in self.tasks}

    def weights(self) -> dict[str, float]:
        """Sampling probability per task (sums to 1)."""
        return {t: float(p) for t, p in zip(self.tasks, self.probabilities)}

    def batch(self, step: int, size: int, micro: int = 0) -> list[Record]:
        """The ``size`` records of optimizer step ``step``, micro-batch ``micro`` (deterministic)."""
        if size < 1 or step < 0 or micro < 0:
            raise ValueError(f"batch needs size >= 1, step >= 0 and micro >= 0, got {size}, {step}, {micro}")
        rng = np.random.default_rng([self.seed, int(step), int(micro)])
        picks = rng.choice(len(self.tasks), size=size, p=self.probabilities)
        out = []
        for k in picks:
            pool = self.pools[self.tasks[k]]
            out.append(pool[int(rng.integers(len(pool)))])
        return out


def fingerprint(records: Sequence[Record]) -> str:
    """A short hash of the records' ids, in order (to check that two runs saw the same batch)."""
    h = hashlib.sha1("\n".join(r.id for r in records).encode("utf-8"))
    return h.hexdigest()[:12]

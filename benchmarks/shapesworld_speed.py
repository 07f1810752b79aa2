"""How fast ShapesWorld writes a mixed-task split on one core (target: 10,000 records in <= 60 s).

    .venv/bin/python benchmarks/shapesworld_speed.py --n 10000 --size 64

Pins the process to one CPU where the OS allows it, generates into a temporary folder and prints records/s,
images written and the per-task time share.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import defaultdict

from vistakit.data.record import write_records
from vistakit.data.shapesworld.generate import GenerateConfig, iter_split


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    per_task: dict[str, float] = defaultdict(float)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = GenerateConfig(split="train", n=args.n, seed=args.seed, size=args.size)

        def timed():
            last = time.perf_counter()
            for rec in iter_split(cfg, __import__("pathlib").Path(tmp)):
                now = time.perf_counter()
                per_task[rec.task] += now - last
                yield rec
                last = time.perf_counter()

        t0 = time.perf_counter()
        n = write_records(f"{tmp}/train.jsonl", timed())
        total = time.perf_counter() - t0
        n_images = sum(len(files) for _, _, files in os.walk(tmp)) - 1
    print(f"{n} records, {n_images} images, {args.size} px: {total:.1f} s on one core ({n / total:.0f} records/s)")
    for task, t in sorted(per_task.items(), key=lambda kv: -kv[1]):
        print(f"  {task:18s} {t:6.2f} s  {100 * t / total:5.1f} %")


if __name__ == "__main__":
    main()

"""``vistakit demo``: fresh ShapesWorld scenes → the model on every task → overlays and a results table."""

from __future__ import annotations

import argparse

from ._model_args import add_model_args, generation_kwargs, load_engine


def configure(p: argparse.ArgumentParser) -> None:
    add_model_args(p)
    p.add_argument("--out", default="demo", help="output folder (default ./demo)")
    p.add_argument("--per-task", type=int, default=4, help="samples per task (default 4)")
    p.add_argument("--seed", type=int, default=20261123, help="ShapesWorld seed (default: one no training split uses)")
    p.add_argument("--tasks", default="", help="comma-separated tasks (default: the reference model's eleven)")


def run(args: argparse.Namespace) -> int:
    from ..evaluation.demo import REFERENCE_TASKS, run_demo
    from ..evaluation.runner import format_table

    if args.per_task < 1:
        raise ValueError(f"--per-task must be >= 1, got {args.per_task}")
    tasks = tuple(t.strip() for t in args.tasks.split(",") if t.strip()) or REFERENCE_TASKS
    engine = load_engine(args)
    result = run_demo(engine, args.out, tasks, args.per_task, args.seed, **generation_kwargs(args))
    for line in format_table(result.report):
        print(line)
    print(f"{len(result.overlays)} overlays in {args.out}/overlays/, every example in {result.gallery}, "
          f"table in {result.table}")  # fmt: skip
    return 0

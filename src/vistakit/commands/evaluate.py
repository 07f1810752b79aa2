"""``vistakit eval``: run a model over a split of a data folder, task by task, and print a metrics table.

    vistakit eval --data data/sw --checkpoint runs/tiny --split val --limit 50 --json runs/tiny/eval.json

Per-sample predictions go to ``--predictions DIR`` as ``<task>.jsonl`` (re-score one with ``vistakit score
--task T --gold data/sw/val.jsonl --pred DIR/T.jsonl --bins B``, B the model's bins, printed here).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ._model_args import add_model_args, generation_kwargs, load_engine


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="data folder holding <split>.jsonl and its images")
    add_model_args(p)
    p.add_argument("--split", default="test", help="split to evaluate (default test)")
    p.add_argument("--tasks", default="", help="only these comma-separated tasks (default: every task in the split)")
    p.add_argument("--limit", type=int, default=None, help="at most this many records per task")
    p.add_argument("--batch-size", type=int, default=8, help="records generated together (default 8)")
    p.add_argument("--predictions", default=None, help="folder to write <task>.jsonl predictions to")
    p.add_argument("--json", default=None, metavar="OUT", help="write the metrics as JSON to OUT ('-': stdout)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..evaluation.runner import evaluate_dir, format_table

    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()] or None
    gen = generation_kwargs(args)
    engine = load_engine(args)
    report = evaluate_dir(
        engine, args.data, args.split, tasks, args.limit, args.batch_size, args.predictions,
        progress=not args.no_progress and sys.stderr.isatty(), **gen,
    )  # fmt: skip
    bins = engine.model.config.bins
    table = sys.stderr if args.json == "-" else sys.stdout  # --json -: stdout holds the JSON alone, for pipes
    for line in format_table(report):
        print(line, file=table)
    bad = sum(r.problems for r in report.results.values())
    if bad:
        print(f"{bad} answer(s) had parts the task parser could not read (column 'bad')", file=sys.stderr)
    if args.predictions:
        print(f"predictions in {args.predictions}/<task>.jsonl (answers at {bins} bins: vistakit score --bins {bins})",
              file=table)  # fmt: skip
    if args.json:
        text = json.dumps(report.metrics, indent=2)  # {task: {metric: value}}, the names of `vistakit score`
        if args.json == "-":
            print(text)
        else:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 0

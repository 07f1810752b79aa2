"""``vistakit score``: score a predictions file against gold records for one task."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from ..evaluation.score import ScoreReport


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", required=True, help="task name (e.g. rec, res, caption); see docs/format.md")
    p.add_argument("--gold", required=True, help="gold records (.jsonl in the vistakit format)")
    p.add_argument("--pred", required=True, help='predictions (.jsonl of {"id": ..., "answer": ...} and/or structured fields)')
    p.add_argument("--bins", type=int, default=1000, help="location bins of the answer text (default 1000)")
    p.add_argument("--by", default=None, metavar="KEY",
                   help="also score each group of records sharing meta[KEY] (e.g. question_kind for ShapesWorld VQA)")
    p.add_argument("--bootstrap", type=int, default=0, metavar="N",
                   help="also print a bootstrap interval of each metric over N resampled sets of the records")
    p.add_argument("--against", default=None, metavar="PRED",
                   help="with --bootstrap: another model's predictions on the same records; the intervals are "
                        "then of the difference (paired)")
    p.add_argument("--level", type=float, default=0.95, help="interval level of --bootstrap (default 0.95)")
    p.add_argument("--seed", type=int, default=0, help="seed of the --bootstrap resampling (default 0)")
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object on stdout (tables go to stderr)")


def run(args: argparse.Namespace) -> int:
    from ..evaluation.score import format_table, score_files

    if args.bootstrap < 0 or 0 < args.bootstrap < 10:
        print(f"error: --bootstrap must be a number of resamples, at least 10 (e.g. 1000), got {args.bootstrap}",
              file=sys.stderr)  # fmt: skip
        return 2
    if not 0.0 < args.level < 1.0:
        print(f"error: --level must be between 0 and 1 (e.g. 0.95), got {args.level}", file=sys.stderr)
        return 2
    if args.against is not None and args.bootstrap == 0:
        print("error: --against compares two models by a paired bootstrap; give --bootstrap N too (e.g. 1000)",
              file=sys.stderr)  # fmt: skip
        return 2
    report = score_files(args.task, args.gold, args.pred, args.bins, args.by)
    for line in report.warnings():
        print(line, file=sys.stderr)
    table = sys.stderr if args.json else sys.stdout  # --json: stdout holds the JSON alone, for pipes
    for line in format_table(report):
        print(line, file=table)
    out = report.json_metrics()
    if args.bootstrap > 0:
        out["bootstrap"] = _bootstrap(args, report, table)
    if args.json:
        print(json.dumps(out))
    return 0


def _bootstrap(args: argparse.Namespace, report: ScoreReport, table: TextIO) -> dict:
    """Print the bootstrap table of the scored records (``report``); return its JSON form."""
    from ..evaluation.bootstrap import bootstrap_intervals, format_intervals
    from ..evaluation.score import align_predictions
    from ..tasks import get_task

    task = get_task(args.task)
    golds, preds = report.golds, report.preds
    base = None
    if args.against is not None:
        other = align_predictions(task, golds, args.against, args.bins)
        if len(other.missing) == len(golds):
            raise ValueError(f"{args.against}: predicts none of the {len(golds)} {task.name} records of {args.gold}; "
                             "expected the other model's predictions on the same records")  # fmt: skip
        if other.missing:
            print(f"warning: {args.against}: {len(other.missing)} gold record(s) have no prediction and count as wrong",
                  file=sys.stderr)  # fmt: skip
        base = other.preds
    intervals = bootstrap_intervals(task, golds, preds, args.bootstrap, args.level, args.seed, base)
    print("", file=table)
    for line in format_intervals(intervals, args.level, args.bootstrap):
        print(line, file=table)
    return {i.metric: i.to_json() for i in intervals}

"""``vistakit score``: score a predictions file against gold records for one task."""

from __future__ import annotations

import argparse
import json
import sys


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", required=True, help="task name (e.g. rec, res, caption); see docs/format.md")
    p.add_argument("--gold", required=True, help="gold records (.jsonl in the vistakit format)")
    p.add_argument("--pred", required=True, help='predictions (.jsonl of {"id": ..., "answer": ...} and/or structured fields)')
    p.add_argument("--bins", type=int, default=1000, help="location bins of the answer text (default 1000)")
    p.add_argument("--by", default=None, metavar="KEY",
                   help="also score each group of records sharing meta[KEY] (e.g. question_kind for ShapesWorld VQA)")
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object on the last line")


def run(args: argparse.Namespace) -> int:
    from ..evaluation.score import format_table, score_files

    report = score_files(args.task, args.gold, args.pred, args.bins, args.by)
    for line in report.warnings():
        print(line, file=sys.stderr)
    for line in format_table(report):
        print(line)
    if args.json:
        print(json.dumps(report.json_metrics()))
    return 0

"""``vistakit bench codec``: the mask-codec benchmark on a COCO instances file."""

from __future__ import annotations

import argparse
import json
import sys


def _int_list(text: str) -> list[int]:
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 8,16,32, got {text!r}") from None
    if not vals or min(vals) < 3:
        raise argparse.ArgumentTypeError(f"point budgets must be integers >= 3, got {text!r}")
    return vals


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", help="COCO instances JSON (default: the shipped shared/data/coco_tiny train annotations)")
    p.add_argument("--points", type=_int_list, default=[8, 16, 32, 64], help="point budgets N (default 8,16,32,64)")
    p.add_argument("--bins", type=int, default=1000, help="location bins B (default 1000)")
    p.add_argument("--samplers", default="uniform,vistallm,adaptive", help="samplers to compare")
    p.add_argument("--repeats", type=int, default=5, help="timing passes; medians are reported")
    p.add_argument("--json", action="store_true",
                   help="print the result as one JSON object on stdout (the table goes to stderr)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from ..evaluation.codec import format_table, load_coco_masks, run_codec_benchmark
    from ..paths import coco_tiny_instances

    data = args.data or coco_tiny_instances()
    cases = load_coco_masks(data)
    samplers = [s.strip() for s in args.samplers.split(",") if s.strip()]
    result = run_codec_benchmark(cases, args.points, args.bins, samplers, args.repeats)
    result["data"] = str(data)
    table = sys.stderr if args.json else sys.stdout  # --json: stdout holds the JSON alone, for pipes
    for line in format_table(result):
        print(line, file=table)
    if args.json:
        print(json.dumps(result))
    return 0

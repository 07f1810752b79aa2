"""``vistakit data show``: draw samples of a data set folder with their annotations in a grid PNG."""

from __future__ import annotations

import argparse
from pathlib import Path


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", help="data set folder holding <split>.jsonl")
    p.add_argument("--split", default="train", help="split to read (default train)")
    p.add_argument("--n", type=int, default=16, help="how many records (default 16)")
    p.add_argument("--skip", type=int, default=0, help="records to skip first (default 0)")
    p.add_argument("--tasks", default="", help="only these comma-separated tasks")
    p.add_argument("--columns", type=int, default=4)
    p.add_argument("--out", required=True, help="PNG to write")


def run(args: argparse.Namespace) -> int:
    import itertools

    from ..data.preview import grid
    from ..data.record import read_records

    if args.n < 1 or args.columns < 1:
        raise ValueError(f"--n and --columns must be >= 1, got {args.n} and {args.columns}")
    path = Path(args.dir) / f"{args.split}.jsonl"
    if not path.is_file():
        found = sorted(p.stem for p in Path(args.dir).glob("*.jsonl")) if Path(args.dir).is_dir() else []
        raise FileNotFoundError(
            f"no split {args.split!r} in {args.dir} (expected {path}; found: {', '.join(found) or 'none'})"
        )
    wanted = {t.strip() for t in args.tasks.split(",") if t.strip()}
    recs = (r for r in read_records(path) if not wanted or r.task in wanted)
    records = list(itertools.islice(recs, args.skip, args.skip + args.n))
    for rec in records:  # a missing image is drawn as a grey placeholder; an unreadable or mis-sized one is refused
        rec.check_images(missing_ok=True)
    grid(records, args.columns).save(args.out)
    print(f"drew {len(records)} {args.split} records from {args.dir} to {args.out}")
    return 0

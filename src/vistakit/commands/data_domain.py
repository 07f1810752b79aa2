"""``vistakit data domain``: summarise a training data folder as a checkpoint's training domain (its tasks, data
source, image sizes and colour statistics; :mod:`vistakit.data.domain`) and print it, or write it into a checkpoint
folder as ``training_domain.json`` (training writes it by itself; this is for checkpoints made before it did).

    vistakit data domain data/sw --tasks caption,vqa,rec --checkpoint runs/old-model
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", help="data set folder holding <split>.jsonl")
    p.add_argument("--split", default="train", help="split the model was trained on (default train)")
    p.add_argument("--tasks", default="", help="only these comma-separated tasks (default: every task in the split)")
    p.add_argument("--max-images", type=int, default=256, help="images to measure colour statistics on (default 256)")
    p.add_argument("--note", default="", help="a line saying where the data came from, kept in the record")
    p.add_argument("--checkpoint", default=None,
                   help="write training_domain.json into this checkpoint folder (default: print it)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from ..data.domain import summarize_folder, write_domain

    if args.max_images < 1:
        raise ValueError(f"--max-images must be >= 1, got {args.max_images}")
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()] or None
    if args.checkpoint is not None and not (Path(args.checkpoint) / "config.json").is_file():
        raise FileNotFoundError(f"--checkpoint {args.checkpoint}: no config.json, so not a vistakit model folder")
    domain = summarize_folder(args.dir, args.split, tasks, args.max_images, args.note)
    if args.checkpoint is None:
        print(json.dumps(domain.to_json(), indent=1))
        return 0
    path = write_domain(args.checkpoint, domain)
    print(f"wrote the training domain of {args.dir} ({args.split}; tasks {', '.join(domain.tasks)}) to {path}")
    return 0

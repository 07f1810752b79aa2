"""How well could a model score if it wrote its training targets exactly? The ceiling its answer format sets.

For each record of a split, the answer a model is trained to write (``processor.answer_for``: the targets
re-encoded at the checkpoint's location bins, mask point budget and sampler) is parsed back like a generated
answer and scored with the task's metrics. What stays below 1 is lost to the format itself — 64 location bins,
16-point polygons — not to the model.

    python research/target_ceiling.py src/vistakit/checkpoints/reference data/sw_eval --split test \
        --tasks rec,res,grec,gres,attcoseg,coseg --limit 100
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vistakit.data.dataset import RecordDataset
from vistakit.model import VistaProcessor
from vistakit.tasks import get_task


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", type=Path, help="model directory (its processor settings define the format)")
    ap.add_argument("data", type=Path, help="data folder holding <split>.jsonl")
    ap.add_argument("--split", default="test")
    ap.add_argument("--tasks", default="rec,res,grec,gres,attcoseg,coseg")
    ap.add_argument("--limit", type=int, default=100, help="records per task (default 100, as the eval tables)")
    args = ap.parse_args()
    processor = VistaProcessor.from_pretrained(args.checkpoint)
    c = processor.config
    print(f"{args.checkpoint}: {c.bins} location bins, {c.mask_points} mask points, {c.sampler} sampler")
    for name in [t.strip() for t in args.tasks.split(",") if t.strip()]:
        task = get_task(name)
        golds = list(RecordDataset(args.data / f"{args.split}.jsonl", tasks=[name]))[: args.limit]
        if not golds:
            print(f"{name:10s} no records")
            continue
        preds = [task.parse(processor.answer_for(r), r.image_sizes, processor.grammar) for r in golds]
        scores = task.score(golds, preds)
        print(f"{name:10s} n={len(golds):4d}  " + "  ".join(f"{k}={v:.4f}" for k, v in scores.items()))


if __name__ == "__main__":
    main()

"""``vistakit fit-relevance``: train a checkpoint's relevance head alone on a split's comparison questions.

    vistakit fit-relevance --checkpoint runs/reference-rel --data data/sw-cmp --out runs/reference-fit --rec 1000

A recipe stage (:mod:`vistakit.train.relevance_fit`): the tower's features are computed once, the head trains on
its map losses (the relation's cross-entropy off unless ``--relation-weight``), and the checkpoint is written to
``--out`` with the fitted head, every other weight as it was. It prints, before and after, how often each map's
strongest patch lies on the object it should find, on the training questions and on the val split's (when the
data folder has one), and writes them to ``--out``/fit_relevance.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="checkpoint folder whose relevance head to fit")
    p.add_argument("--data", required=True,
                   help="data folder with comparison questions made with --question-grounding objects")
    p.add_argument("--split", default="train", help="split to fit on (default train); the val split, if any, is scored")
    p.add_argument("--out", required=True, help="folder to write the checkpoint with the fitted head to")
    p.add_argument("--comparisons", type=int, default=2000, help="most comparison questions to fit on (default 2000)")
    p.add_argument("--rec", type=int, default=1000,
                   help="REC and RES records each fitted on beside them, keeping their maps (default 1000)")
    p.add_argument("--steps", type=int, default=2000, help="optimiser steps (default 2000)")
    p.add_argument("--batch-size", type=int, default=64, help="samples per step (default 64)")
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate (default 1e-3)")
    p.add_argument("--relation-weight", type=float, default=0.0,
                   help="the relation's cross-entropy × this (default 0: off; on, it kept the maps from splitting)")
    p.add_argument("--seed", type=int, default=0, help="seed of the batch draws (default 0)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")


def run(args: argparse.Namespace) -> int:
    import json
    import time

    import torch

    from ..data.dataset import RecordDataset
    from ..model.loading import load_pretrained
    from ..train.relevance_fit import fit_head, head_inputs, map_hits, select_records

    if args.comparisons < 1 or args.rec < 0:
        raise ValueError(f"--comparisons must be >= 1 and --rec >= 0, got {args.comparisons} and {args.rec}")
    data = Path(args.data)
    split = data / f"{args.split}.jsonl"
    if not split.is_file():
        raise FileNotFoundError(f"no split {args.split!r} in {data} (expected {split})")
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"--out {out} exists and is not empty: choose a new folder (nothing is overwritten)")
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    model, processor = load_pretrained(args.checkpoint)
    records = select_records(list(RecordDataset(split, tasks=["vqa", "rec", "res"])), args.comparisons, args.rec)
    train = head_inputs(model, processor, records)
    heldout = None
    val = data / "val.jsonl"
    if args.split != "val" and val.is_file():
        vals = [r for r in RecordDataset(val, tasks=["vqa"])]
        if any(r.meta.get("anchor_mask") is not None for r in vals):
            heldout = head_inputs(model, processor, select_records(vals, args.comparisons, 0))
    n_cmp = int(train["cmp"].sum())
    print(f"{args.checkpoint}: fitting the relevance head on {n_cmp} comparison questions + {len(records) - n_cmp} "
          f"REC / RES records of {split}")  # fmt: skip
    head = model.image_tokenizer.relevance
    report: dict = {"settings": {k: v for k, v in vars(args).items() if not k.startswith("_")},
                    "before": {"train": vars(map_hits(head, train))}}  # fmt: skip
    print(f"before   train: {map_hits(head, train)}")
    if heldout is not None:
        report["before"]["val"] = vars(map_hits(head, heldout))
        print(f"         val:   {map_hits(head, heldout)}")
    fitted = fit_head(head, train, args.steps, lr=args.lr, batch_size=args.batch_size,
                      relation_weight=args.relation_weight, seed=args.seed,
                      log=lambda step, value, _: print(f"step {step}: loss {value:.4f}"))  # fmt: skip
    report["after"] = {"train": vars(map_hits(fitted, train))}
    print(f"after    train: {map_hits(fitted, train)}")
    if heldout is not None:
        report["after"]["val"] = vars(map_hits(fitted, heldout))
        print(f"         val:   {map_hits(fitted, heldout)}")
    head.load_state_dict(fitted.state_dict())
    model.save_pretrained(out, processor)
    report["seconds"] = round(time.perf_counter() - t0, 1)
    (out / "fit_relevance.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"checkpoint with the fitted head in {out} ({report['seconds']:.0f} s)")
    return 0

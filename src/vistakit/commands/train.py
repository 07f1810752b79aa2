"""``vistakit train``: train a model from a preset on a data folder (task mixture, checkpoints, logs, curves).

    vistakit train --preset tiny --data data/sw --out runs/tiny steps=2000 batch_size=16 mixture=rec:2
    vistakit train --preset tiny --data data/sw --out runs/tiny --resume
    vistakit train --procs 2 --threads 1 --preset tiny --data data/sw --out runs/tiny   # data-parallel, 2 processes

Trailing ``key=value`` words override training settings (see ``vistakit.train.config.TrainConfig``);
``model.a.b=value`` overrides the model preset (e.g. ``model.lm.layers=2``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default=None, help="model preset (default tiny); see vistakit.model.presets")
    p.add_argument("--data", default=None, help="data folder holding train.jsonl (and val.jsonl for validation)")
    p.add_argument("--out", default=None, help="output folder: the final model, checkpoints/ and train/ logs")
    p.add_argument("--tasks", default=None, help="only these comma-separated tasks (default: every task in the data)")
    p.add_argument(
        "--config", default=None, help="a JSON file of training settings (e.g. a run's train/train_config.json)"
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from the newest checkpoint in --out (with the run's saved settings, then overrides)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar: print a line per logged step instead")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch, per process (default: torch's choice; with --procs the cores shared out)")
    p.add_argument("--procs", type=int, default=1,
                   help="data-parallel processes on this machine, each on its share of every batch (default 1; "
                        "see vistakit.train.distributed — torchrun works too)")  # fmt: skip
    p.add_argument(
        "overrides", nargs="*", metavar="key=value", help="training setting overrides; model.* for the model"
    )


def run(args: argparse.Namespace) -> int:
    procs = getattr(args, "procs", 1)
    if procs != 1:
        from ..train import distributed

        if procs < 1:
            raise ValueError(f"--procs must be >= 1, got {procs}")
        if args.threads is not None and args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        cfg = _settings(args)  # bad settings fail here, once, before any process starts
        if cfg.batch_size % procs:
            raise ValueError(f"batch_size {cfg.batch_size} must be a multiple of --procs {procs} (each process takes "
                             f"an equal share of every batch)")  # fmt: skip
        args.procs = 1
        return distributed.launch(_run_one, (args,), procs, args.threads)
    return _run_one(args)


def _settings(args: argparse.Namespace):
    from ..train.config import TrainConfig

    saved = Path(args.out or "", "train", "train_config.json")
    if args.config:
        cfg = TrainConfig.load(args.config)
    elif args.resume and args.out and saved.is_file():
        cfg = _saved_settings(saved, Path(args.out))  # resume with the run's own settings unless told otherwise
    else:
        cfg = TrainConfig()
    cli = {"preset": args.preset, "data": args.data, "out": args.out, "tasks": args.tasks}
    return cfg.with_overrides([f"{k}={v}" for k, v in cli.items() if v is not None] + list(args.overrides))


def _saved_settings(saved: Path, out: Path):
    """The run's ``train_config.json``; if it is damaged, the copy in its newest intact checkpoint (said on stderr)."""
    from ..train import checkpoint as ckpt
    from ..train.config import TrainConfig

    try:
        return TrainConfig.load(saved)
    except ValueError as exc:
        folder, _ = ckpt.newest_intact_checkpoint(out)
        state = ckpt.read_trainer_state(folder) if folder is not None else {}
        if "train_config" not in state:
            raise
        print(f"resume: {exc}; using the settings saved in {folder}", file=sys.stderr, flush=True)
        return TrainConfig.from_dict(state["train_config"], f"{folder / ckpt.STATE_FILE}: train_config")


def _run_one(args: argparse.Namespace) -> int:
    """One training process (the only one, or one of a data-parallel group the environment describes)."""
    import torch

    from ..train import distributed
    from ..train.loop import Trainer, describe

    cfg = _settings(args)
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    ctx = distributed.env_context()
    try:
        trainer = Trainer(cfg, resume=args.resume, progress=not args.no_progress, echo=args.no_progress, dist=ctx)
        if ctx.main:
            for line in describe(trainer):
                print(line, flush=True)
        result = trainer.run()
    finally:
        distributed.shutdown(ctx)
    if ctx.main:
        val = f", val loss {result.val_loss:.4f}" if result.val_loss is not None else ""
        print(f"trained to step {result.step}: loss {result.loss:.4f}{val}; model in {result.out} "
              f"(curves: {result.out / 'train' / 'curves.png'})")  # fmt: skip
        print(_eval_hint(cfg.data, cfg.val_split, cfg.train_split, result.out))
    return 0


def _eval_hint(data: str, val_split: str, train_split: str, out: Path) -> str:
    """The ``vistakit eval`` line to run next, naming a split the data folder has (its validation split, else the
    training split, saying that those records were trained on)."""
    if Path(data, f"{val_split}.jsonl").is_file():
        return f"evaluate it: vistakit eval --data {data} --checkpoint {out} --split {val_split}"
    return (f"evaluate it: vistakit eval --data {data} --checkpoint {out} --split {train_split} "
            f"(no '{val_split}' split in {data}: these are the records it trained on)")  # fmt: skip

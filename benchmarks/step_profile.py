"""Where a training step of a run's recipe spends its time: parameters per part, tokens per sample by task, and the
operators that take the CPU time of a few steps (``torch.profiler``).

    .venv/bin/python benchmarks/step_profile.py runs/RUN [--steps 3] [--records 300] [--set KEY=VALUE …]

Reads ``RUN/train/train_config.json`` (what ``vistakit train`` wrote; or RUN itself when it is a settings file,
such as a checkpoint's ``train_config.json`` with ``--set data=DIR``), builds that model fresh (nothing is
trained or saved; ``--set`` changes the recipe first, e.g. ``--set batch_size=16 --set model.lm.layers=3`` to
time a variant before spending a run on it), draws batches from the run's mixture, and prints: each top-level
part's parameter count; for the run's validation records, the mean tokens a sample brings to the language model
by task, split into its images' tokens, its answer (the labelled tokens) and the rest (prompt, tags); the median
seconds of collation, forward, backward and the optimizer step; and the operators with the most self CPU time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path,
                    help="a run folder of vistakit train (its train/train_config.json) or a settings file")
    ap.add_argument("--steps", type=int, default=3, help="profiled steps, after timing 10 (default 3)")
    ap.add_argument("--records", type=int, default=300, help="validation records for the token counts (default 300)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a vistakit train override applied to the run's recipe (repeatable)")
    args = ap.parse_args()
    cfg_path = args.run if args.run.is_file() else args.run / "train" / "train_config.json"
    if not cfg_path.is_file():
        raise SystemExit(f"{args.run}: no train/train_config.json; expected a run folder written by vistakit train "
                         "or a settings file (e.g. a checkpoint's train_config.json)")
    torch.set_num_threads(args.threads)
    from torch.profiler import ProfilerActivity, profile

    from vistakit.train.config import TrainConfig
    from vistakit.train.loop import Trainer

    tmp = tempfile.mkdtemp()
    try:
        cfg = TrainConfig.load(cfg_path).with_overrides(
            [*args.set, f"out={tmp}", "eval_every=0", "save_every=0", "val_records=0", "tensorboard=false", "init="]
        )
    except ValueError as e:
        raise SystemExit(f"--set: {e}") from None
    tr = Trainer(cfg, False, False)
    model, proc = tr.model, tr.processor
    print("parameters: " + ", ".join(f"{n} {sum(p.numel() for p in c.parameters()):,}" for n, c in model.named_children()))

    per = model.config.tokens_per_image
    by: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    for r in tr.val_records[: args.records]:
        b = proc.from_records([r], truncation=True)
        by[r.task].append((int(b["attention_mask"].sum()), int((b["labels"] != -100).sum()), per * len(r.images)))
    print(f"\ntokens per sample ({sum(map(len, by.values()))} validation records; {per} per image)")
    print(f"{'task':<12} {'n':>4} {'all':>6} {'images':>7} {'answer':>7} {'rest':>6}")
    for task, rows in sorted(by.items()):
        n = len(rows)
        tot, ans, img = (sum(x[i] for x in rows) / n for i in range(3))
        print(f"{task:<12} {n:>4} {tot:6.1f} {img:7.1f} {ans:7.1f} {tot - img - ans:6.1f}")

    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    times: dict[str, list[float]] = defaultdict(list)

    def step(k: int) -> None:
        t0 = time.perf_counter()
        batch = proc.from_records(tr.mixture.batch(k, cfg.batch_size, 0), truncation=True).to(tr.device)
        t1 = time.perf_counter()
        with tr._autocast():
            loss = model(**batch, return_logits=False).loss
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        tr.optimizer.step()
        tr.optimizer.zero_grad(set_to_none=True)
        t4 = time.perf_counter()
        for name, dt in zip(("collate", "forward", "backward", "optimizer"), (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            times[name].append(dt)

    step(0)  # warm-up
    times.clear()
    for k in range(1, 11):
        step(k)
    med = {k: statistics.median(v) for k, v in times.items()}
    total = sum(med.values())
    print(f"\none step of {cfg.batch_size} (median of 10): {total:.3f} s, {cfg.batch_size / total:.1f} samples/s; "
          + ", ".join(f"{k} {v:.3f} s ({v / total:.0%})" for k, v in med.items()))  # fmt: skip
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for k in range(args.steps):
            step(100 + k)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    all_us = sum(e.self_cpu_time_total for e in events)
    print(f"\noperators by self CPU time ({args.steps} steps)")
    for e in events[:12]:
        print(f"  {e.key:<36} {e.self_cpu_time_total / 1e3:9.1f} ms  {e.self_cpu_time_total / all_us:6.1%}  {e.count} calls")


if __name__ == "__main__":
    main()

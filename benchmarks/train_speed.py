"""Training-step speed of a preset on this machine, float32 against bf16 autocast (is the bf16 flag worth it?).

    .venv/bin/python benchmarks/train_speed.py --preset tiny --batch-size 16 --steps 10 --threads 1

Builds the preset (tokenizer trained on a generated ShapesWorld split), then times full optimizer steps (batch
collation, forward, backward, AdamW) on the same fixed batches with ``bf16`` off and on, after a warm-up step,
and prints seconds per step, samples/s and the loss of each mode (bf16 should land close to float32).
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from pathlib import Path

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("overrides", nargs="*", help="model overrides a.b=value")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from vistakit.data.record import read_records
    from vistakit.data.shapesworld.generate import GenerateConfig, generate_split
    from vistakit.model import create_model, make_config
    from vistakit.train.mixture import TaskMixture
    from vistakit.train.optim import build_optimizer

    with tempfile.TemporaryDirectory() as tmp:
        generate_split(tmp, GenerateConfig(split="train", n=max(64, 4 * args.batch_size), seed=0))
        records = list(read_records(Path(tmp) / "train.jsonl"))
        mixture = TaskMixture(records, seed=0)
        batches = [mixture.batch(s, args.batch_size) for s in range(args.steps + 1)]
        device = torch.device(args.device)
        print(f"preset {args.preset}, batch {args.batch_size}, {args.steps} steps, {args.threads} thread(s), {device}")
        for bf16 in (False, True):
            torch.manual_seed(0)
            model, processor = create_model(make_config(args.preset, args.overrides),
                                            (t for r in records for t in (r.prompt, r.answer)))  # fmt: skip
            model.to(device).train()
            opt = build_optimizer(model, 1e-3, 0.0)
            ctx = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
            times, losses = [], []
            for k, recs in enumerate(batches):
                t0 = time.perf_counter()
                batch = processor.from_records(recs, truncation=True).to(device)
                with ctx():
                    loss = model(**batch).loss
                loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                if k:  # the first step warms up
                    times.append(time.perf_counter() - t0)
                    losses.append(float(loss.detach()))
            per = sum(times) / len(times)
            print(f"{'bf16 autocast' if bf16 else 'float32':>14}: {per:.3f} s/step, "
                  f"{args.batch_size / per:.1f} samples/s, mean loss {sum(losses) / len(losses):.4f}")  # fmt: skip


if __name__ == "__main__":
    main()

"""Training MFU: the FLOPs a training step counts (torch's ``FlopCounterMode``, forward + backward) per second,
over the bf16 matrix-multiply peak measured in the same run, eager and (``--compile``) compiled.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/train_mfu.py --preset tiny --batch 32 --steps 5 --threads 2
    .venv/bin/python benchmarks/train_mfu.py --compile          # also the compiled model (needs a C++ compiler)

Builds the preset on a generated ShapesWorld split (tokenizer trained on it), counts one step's FLOPs on the
first batch, then times ``--steps`` optimizer steps (bf16 autocast, ``return_logits=False`` as training runs,
AdamW) after a warm-up step and prints samples/s, achieved GFLOP/s and MFU = achieved / peak. The peak is the
best of a few square bf16 matmuls (``--peak-size``) on the same threads, timed right before. On a machine shared
with other jobs both numbers move: quote the MFU of one run and say the machine was shared.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
from torch.utils.flop_counter import FlopCounterMode


def matmul_peak(size: int, reps: int = 10) -> float:
    """FLOP/s of the best of ``reps`` bf16 ``size``×``size`` matrix products (2·size³ FLOPs each)."""
    a = torch.randn(size, size, dtype=torch.bfloat16)
    b = torch.randn(size, size, dtype=torch.bfloat16)
    a @ b
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * size**3 / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--peak-size", type=int, default=2048)
    ap.add_argument("--compile", action="store_true", help="also time the compiled model (train/compile.py)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from vistakit.data import RecordDataset
    from vistakit.data.shapesworld.generate import GenerateConfig, generate_split
    from vistakit.model import create_model, make_config

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        generate_split(tmp, GenerateConfig(split="train", n=2 * args.batch, seed=0))
        records = list(RecordDataset(tmp))
        model, processor = create_model(make_config(args.preset), [t for r in records for t in (r.prompt, r.answer)])
        batches = [processor.from_records(records[i : i + args.batch], truncation=True)
                   for i in range(0, 2 * args.batch, args.batch)]  # fmt: skip
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()

    def step(b) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model(**b, return_logits=False).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    with FlopCounterMode(display=False) as counter:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model(**batches[0], return_logits=False).loss
        loss.backward()
    opt.zero_grad(set_to_none=True)
    flops = counter.get_total_flops() / args.batch  # per sample, forward + backward
    print(f"preset {args.preset}, batch {args.batch}, {torch.get_num_threads()} thread(s): "
          f"{flops / 1e9:.2f} GFLOP per sample (forward + backward, counted)")  # fmt: skip
    modes = ["eager"] + (["compiled"] if args.compile else [])
    for mode in modes:
        if mode == "compiled":
            from vistakit.train.compile import check_compiler, compile_model

            check_compiler(torch.device("cpu"))
            compile_model(model)
        for b in batches:  # warm-up (and compilation)
            step(b)
        peak = matmul_peak(args.peak_size)
        times = []
        for i in range(args.steps):
            t0 = time.perf_counter()
            step(batches[i % len(batches)])
            times.append(time.perf_counter() - t0)
        sec = statistics.median(times)
        achieved = flops * args.batch / sec
        print(f"{mode:>8}: {args.batch / sec:6.1f} samples/s, {achieved / 1e9:6.1f} GFLOP/s; bf16 matmul peak "
              f"{peak / 1e9:6.1f} GFLOP/s; MFU {achieved / peak:.1%}")  # fmt: skip


if __name__ == "__main__":
    main()

"""Why the CPU path writes attention out: PyTorch's fused CPU kernel against scores + float32 softmax + weights @
values, at the tiny preset's shapes, then whole training steps of the tiny preset with each choice.

    .venv/bin/python benchmarks/attention_cpu.py --data data/sw --threads 2 --reps 5

Part 1 times forward + backward of one attention call in bf16 (the ViT's self-attention [images, heads, 64, 32];
a packed LM row block [rows, heads, ~190, 64] with an additive mask). Part 2 times optimizer steps (bf16
autocast, batch 32 from the reference mixture, after a warm-up step) of the tiny preset in four set-ups:
the fused kernel everywhere with the output layer on every position (the old path); written-out attention in
the vision tower and tokenizer; + the LM's eager attention (``lm.attention=auto`` on the CPU); + the output
layer on answer positions only (``forward(..., return_logits=False)``, what training uses). Medians of ``--reps``.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

MIXTURE = {"rec": 1.5, "res": 2, "grec": 1.5, "gres": 2, "attcoseg": 2, "coseg": 1.5, "reg": 1, "caption": 0.7,
           "vqa": 1, "nlvr": 0.7, "which_image": 0.7}  # fmt: skip


def fused(q, k, v, mask=None):
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def time_call(fn, reps: int) -> float:
    for _ in range(2):
        fn().float().sum().backward()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn().float().sum().backward()
        out.append(time.perf_counter() - t0)
    return statistics.median(out) * 1000


def kernels(reps: int) -> None:
    from vistakit.model.vision import attention

    print("part 1: one attention call, forward + backward, bf16 (median ms)")
    for shape, masked in (((56, 4, 64, 32), False), ((16, 4, 190, 64), True)):
        q, k, v = (torch.randn(*shape, dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
        mask = torch.zeros(shape[0], 1, shape[2], shape[2], dtype=torch.bfloat16) if masked else None
        a = time_call(lambda q=q, k=k, v=v, m=mask: fused(q, k, v, m), reps)
        b = time_call(lambda q=q, k=k, v=v, m=mask: attention(q, k, v, m), reps)
        print(f"  {list(shape)}{' + mask' if masked else ''}: fused {a:.1f} · written out {b:.1f} · {a / b:.2f}×")


def steps(data: Path, reps: int) -> None:
    from vistakit.data.dataset import RecordDataset
    from vistakit.model import create_model, make_config, vision
    from vistakit.train.mixture import TaskMixture
    from vistakit.train.optim import build_optimizer

    records = list(RecordDataset(data / "train.jsonl"))[:20000]
    mixture = TaskMixture(records, MIXTURE, seed=0)
    setups = [  # (name, vision kernel, lm.attention, return_logits)
        ("fused everywhere, all logits (old)", fused, "sdpa", True),
        ("+ written-out vision attention", vision.attention, "sdpa", True),
        ("+ eager LM attention", vision.attention, "auto", True),
        ("+ output layer on answers only", vision.attention, "auto", False),
    ]
    written_out = vision.attention
    print("part 2: tiny preset training step, batch 32, bf16 autocast (median ms)")
    results: dict[str, list[float]] = {}
    torch.manual_seed(0)
    model, processor = create_model(
        make_config("tiny", ["vision.stem=conv"]), (t for r in records for t in (r.prompt, r.answer))
    )
    model.train()
    opt = build_optimizer(model, 1e-4, 0.0)
    batches = [processor.from_records(mixture.batch(s, 32), truncation=True) for s in range(6)]
    try:
        for _ in range(reps):
            for name, kernel, lm_attention, return_logits in setups:
                vision.attention = kernel
                model.config.lm.attention = lm_attention
                model._choose_attention()
                times = []
                for k, batch in enumerate(batches):
                    t0 = time.perf_counter()
                    with torch.autocast("cpu", dtype=torch.bfloat16):
                        loss = model(**batch, return_logits=return_logits).loss
                    loss.backward()
                    opt.step()
                    opt.zero_grad(set_to_none=True)
                    if k:  # the first batch warms up
                        times.append(time.perf_counter() - t0)
                results.setdefault(name, []).append(1000 * sum(times) / len(times))
    finally:
        vision.attention = written_out
    base = statistics.median(results[setups[0][0]])
    for name, values in results.items():
        med = statistics.median(values)
        print(f"  {name:<38} {med:6.0f} ms/step  ({base / med:.2f}× the old path; runs {[round(v) for v in values]})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("data/sw"), help="a ShapesWorld folder with train.jsonl")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if not (args.data / "train.jsonl").is_file():
        raise SystemExit(
            f"no {args.data / 'train.jsonl'}; generate one: vistakit data generate --out {args.data} --split train --n 2000"
        )
    with contextlib.suppress(KeyboardInterrupt):
        kernels(args.reps)
        steps(args.data, args.reps)


if __name__ == "__main__":
    main()

"""Time one training step (forward + backward + AdamW) of a preset on ShapesWorld batches, with and without
sequence packing, and greedy generation with and without the KV cache.

    .venv/bin/python benchmarks/model_step.py --preset tiny --batch 32 --reps 5

Generates a small mixed-task split in a temporary folder, trains the preset's tokenizer on it, then times
``--reps`` steps on each of a few fixed batches (after a warm-up step) and prints the median and the minimum.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from vistakit.data import RecordDataset
from vistakit.data.shapesworld.generate import GenerateConfig, generate_split
from vistakit.model import Engine, create_model, make_config


def timed(fn, reps: int) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--gen-tokens", type=int, default=32)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        generate_split(tmp, GenerateConfig(split="train", n=4 * args.batch, seed=0))
        records = list(RecordDataset(tmp))
        model, processor = create_model(make_config(args.preset), [t for r in records for t in (r.prompt, r.answer)])
        batches = [
            processor.from_records(records[i : i + args.batch], truncation=True)
            for i in range(0, 3 * args.batch, args.batch)
        ]
        prompts = records[3 * args.batch : 3 * args.batch + min(args.batch, 16)]
        gen_batch = processor.from_records(prompts, with_answers=False)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    print(
        f"preset {args.preset}: {sum(p.numel() for p in model.parameters()):,} parameters, {torch.get_num_threads()} threads"
    )
    for b in batches:
        real = b["attention_mask"].float().mean().item()
        print(f"  batch {list(b['input_ids'].shape)}, {len(b['pixel_values'])} images, {real:.0%} real tokens")
    model.train()
    for pack in (False, True):

        def step(pack=pack):
            for b in batches:
                loss = model(**b, pack=pack).loss
                loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=True)

        times = [t / len(batches) for t in timed(step, args.reps)]
        print(
            f"train step (pack={pack}): median {statistics.median(times):.3f} s, min {min(times):.3f} s per batch of {args.batch}"
        )
    engine = Engine(model, processor)
    for cache in (True, False):
        times = timed(
            lambda c=cache: engine.generate_batch(gen_batch, max_new_tokens=args.gen_tokens, use_cache=c),
            max(1, args.reps // 2),
        )
        print(
            f"generate {len(prompts)} × {args.gen_tokens} tokens (cache={cache}): median {statistics.median(times):.3f} s"
        )


if __name__ == "__main__":
    main()

"""Decoding speed: the engine against Hugging Face ``generate`` on the same model and the same inputs, outputs
compared token by token, at batch 1 and 16.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/decode_speed.py               # the shipped reference model
    .venv/bin/python benchmarks/decode_speed.py --checkpoint runs/x/final --batches 1 4 16 --reps 7

Each repetition times, interleaved on the same batch of ShapesWorld test prompts: the engine (greedy, the lean
step over a static cache), the engine with Hugging Face's forward (``Engine(lean=False)``, the engine before
the static cache) and ``lm.generate(inputs_embeds=…)`` (greedy, its default dynamic cache). All three embed the
images the same way (``model.embed``, timed too) and decode unconstrained, so their tokens must agree; the
script exits 1 when they do not, or when the bar is missed (``--bar``: engine ≥ 1.5× HF at batch 1, ≥ 1.2× at
batch 16). Medians of the interleaved repetitions; on a shared machine quote only the ratios of one run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

import torch


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=None, help="checkpoint folder (default: the shipped reference model)")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--api", type=int, default=0, metavar="N",
                    help="also time Vista.predict_batch of N requests against N predict calls, lean and not")
    ap.add_argument("--bar", action="store_true", help="exit 1 unless engine/HF ≥ 1.5 at batch 1 and ≥ 1.2 at 16")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from vistakit import Vista
    from vistakit.data import RecordDataset
    from vistakit.data.shapesworld.generate import GenerateConfig, generate_split
    from vistakit.model import Engine

    vista = Vista.from_pretrained(args.checkpoint, device="cpu")
    engine = vista.engine
    model, processor = engine.model, engine.processor
    old = Engine(model, processor, lean=False)
    tok = processor.tokenizer
    tmp = tempfile.TemporaryDirectory()  # the records read their images from it: kept until the end
    generate_split(tmp.name, GenerateConfig(split="test", n=max(*args.batches, args.api), seed=5))
    records = list(RecordDataset(tmp.name))

    def hf(batch) -> list[list[int]]:
        mask = batch["attention_mask"]
        embeds = model.embed(batch["pixel_values"], batch["image_to_sample"], batch["input_ids"],
                             batch["instruction_ids"], batch["instruction_mask"])  # fmt: skip
        out = model.lm.generate(inputs_embeds=embeds, attention_mask=mask, max_new_tokens=args.max_new_tokens,
                                do_sample=False, num_beams=1, eos_token_id=tok.eos_token_id,
                                pad_token_id=tok.pad_token_id)  # fmt: skip
        answers = []
        for row in out.tolist():  # new tokens only (inputs_embeds), padded after </s>
            answers.append(row[: row.index(tok.eos_token_id)] if tok.eos_token_id in row else row)
        return answers

    def ours(e: Engine):
        return lambda batch: [r.token_ids for r in e.generate_batch(batch, max_new_tokens=args.max_new_tokens,
                                                                     constrained=False)]  # fmt: skip

    runs = {"engine": ours(engine), "engine (HF forward)": ours(old), "HF generate": hf}
    print(f"{vista.name}: {sum(p.numel() for p in model.lm.parameters()):,} LM parameters, {torch.get_num_threads()} "
          f"thread(s), {args.max_new_tokens} new tokens at most, {args.reps} interleaved repetitions (medians)")  # fmt: skip
    ok = True
    for b in args.batches:
        batch = processor.from_records(records[:b], with_answers=False)
        times: dict[str, list[float]] = {k: [] for k in runs}
        answers: dict[str, list[list[int]]] = {}
        with torch.no_grad():
            for name, fn in runs.items():  # warm-up, and the answers to compare
                answers[name] = fn(batch)
            for _ in range(args.reps):
                for name, fn in runs.items():
                    t0 = time.perf_counter()
                    fn(batch)
                    times[name].append(time.perf_counter() - t0)
        same = all(a == answers["HF generate"] for a in answers.values())
        med = {k: statistics.median(v) for k, v in times.items()}
        tokens = sum(len(a) for a in answers["engine"])
        ratio = med["HF generate"] / med["engine"]
        need = 1.5 if b == 1 else 1.2
        print(f"batch {b:>2}: {tokens} tokens  " + "  ".join(f"{k} {1e3 * v:.0f} ms" for k, v in med.items())
              + f"  | HF/engine {ratio:.2f}×  HF-forward/engine {med['engine (HF forward)'] / med['engine']:.2f}×"
              + f"  identical tokens: {'yes' if same else 'NO'}")  # fmt: skip
        ok &= same and (not args.bar or ratio >= need)
    if args.api:
        api_batch(vista, records[: args.api])
    if not ok:
        print("FAILED: " + ("tokens differ" if not same else "the speed bar is missed"))
    return 0 if ok else 1


def api_batch(vista, records) -> None:
    """The API's own batch of N requests (one generation call) against N requests one at a time, for the lean
    engine and the engine on Hugging Face's forward (default generation settings, median of 3 each)."""
    from vistakit import Request
    from vistakit.model import Engine

    requests = [Request(r.image_paths(), r.prompt, r.task, list(r.visual_prompts) or None) for r in records]
    lean_engine = vista.engine
    for name, engine in (("lean", lean_engine), ("HF forward", Engine(lean_engine.model, vista.processor, lean=False))):
        vista.engine = engine
        one = lambda: [vista.predict_batch([q]) for q in requests]  # noqa: E731
        batched = lambda: vista.predict_batch(requests)  # noqa: E731
        times = {"sequential": [], "batched": []}
        with torch.no_grad():
            batched()
            for _ in range(3):
                for key, fn in (("sequential", one), ("batched", batched)):
                    t0 = time.perf_counter()
                    fn()
                    times[key].append(time.perf_counter() - t0)
        seq, bat = statistics.median(times["sequential"]), statistics.median(times["batched"])
        print(f"API, {name}: {len(requests)} requests one at a time {1e3 * seq:.0f} ms, as one batch {1e3 * bat:.0f} ms "
              f"→ {seq / bat:.2f}×")  # fmt: skip
    vista.engine = lean_engine


if __name__ == "__main__":
    sys.exit(main())

"""The GPU check (run by scripts/gpu_check.sh): train a base-size model with random weights for a few hundred
steps on ShapesWorld and print samples/s and MFU against the GPU's bf16 peak.

The model is the ``vistallm-7b`` preset's architecture built from its sizes instead of HF directories (a
from-scratch ViT-L/14 tower at 336 px and a Llama LM, both random; ``--size base``: the LM at 2048 × 16 layers,
about 1B; ``--size 7b``: 4096 × 32), with the grounding parts on, trained in bf16 autocast (``vistakit train``,
``bf16=true``). MFU = samples/s × FLOPs per sample / peak, where FLOPs per sample = 6 × (LM + tokenizer
parameters) × the mean sequence length the processor made of the data + 6 × tower parameters × patches per
sample; the first logged window (warm-up) is left out. ``--dry-run``: a test-size model for 3 steps on the CPU,
to check the script itself (no MFU without a GPU).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0, "L4": 121.0}  # bf16 dense
SIZES = {
    "base": ["lm.hidden=2048", "lm.layers=16", "lm.heads=16", "lm.intermediate=5504"],
    "7b": [],
    "dry-run": ["vision.dim=32", "vision.depth=1", "vision.heads=2", "vision.image_size=32", "vision.patch_size=8",
                "canvas=32", "image_tokenizer.dim=32", "image_tokenizer.depth=1", "image_tokenizer.heads=2",
                "image_tokenizer.num_queries=4", "lm.hidden=32", "lm.layers=2", "lm.heads=2", "lm.intermediate=64",
                "mask_decoder.dim=8"],
}  # fmt: skip


def peak_tflops(name: str) -> float | None:
    for key, value in PEAK_TFLOPS.items():
        if key in name:
            return value
    return None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=["base", "7b"], default="base")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--records", type=int, default=2000, help="ShapesWorld records to generate")
    p.add_argument("--peak-tflops", type=float, default=None, help="the GPU's bf16 dense peak (default: by its name)")
    p.add_argument("--work", default=None, help="work folder (default: a temporary one, removed after)")
    p.add_argument("--dry-run", action="store_true", help="test-size model, 3 steps, CPU")
    args = p.parse_args()
    import torch

    from vistakit.data.shapesworld.generate import GenerateConfig, generate_split

    size = "dry-run" if args.dry_run else args.size
    steps, batch = (3, 2) if args.dry_run else (args.steps, args.batch)
    device = "cpu" if args.dry_run else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu_check: no CUDA device here (use --dry-run to check the script on the CPU)")
    gpu = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="vistakit-gpu-check-"))
    try:
        data = work / "data"
        image = 32 if args.dry_run else 336
        generate_split(data, GenerateConfig(split="train", n=24 if args.dry_run else args.records, seed=0,
                                            tasks=("rec", "caption", "vqa"), size=image))  # fmt: skip
        out = work / "run"
        overrides = ["model.vision.kind=vit", "model.lm.kind=llama"] + [f"model.{o}" for o in SIZES[size]]
        cmd = [str(BIN / "vistakit"), "train", "--preset", "vistallm-7b", "--data", str(data), "--out", str(out),
               "--no-progress", *overrides, f"steps={steps}", f"batch_size={batch}", "eval_every=0", "save_every=0",
               f"log_every={max(1, min(50, steps // 3))}", "tensorboard=false", f"device={device}",
               f"bf16={'false' if args.dry_run else 'true'}", "warmup=10", "lr=1e-4"]  # fmt: skip
        r = subprocess.run(cmd, env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, capture_output=True, text=True)
        if r.returncode:
            print(r.stdout[-2000:], r.stderr[-3000:], file=sys.stderr)
            return 1
        return report(out, data, gpu, size, steps, batch, args.peak_tflops or peak_tflops(gpu))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


def report(out: Path, data: Path, gpu: str, size: str, steps: int, batch: int, peak: float | None) -> int:
    from vistakit.data.dataset import RecordDataset
    from vistakit.model import load_pretrained

    log = [json.loads(x) for x in (out / "train" / "log.jsonl").read_text().splitlines()]
    windows = [e["samples_per_s"] for e in log if e.get("kind") == "train"]
    rate = sum(windows[1:]) / len(windows[1:]) if len(windows) > 1 else windows[-1]
    model, processor = load_pretrained(out)
    records = list(RecordDataset(data / "train.jsonl"))[:64]
    batch_ids = processor.from_records(records, truncation=True)["attention_mask"]
    tokens = float(batch_ids.sum()) / len(records)
    vision = sum(p.numel() for p in model.vision.parameters())
    rest = sum(p.numel() for p in model.parameters()) - vision
    cfg = model.config
    patches = (cfg.vision.image_size // cfg.vision.patch_size) ** 2 * sum(len(r.images) for r in records) / len(records)
    flops = 6 * rest * tokens + 6 * vision * patches
    mfu = f"{rate * flops / (peak * 1e12):.1%} of {peak:g} TFLOPs bf16" if peak and gpu != "CPU" else "n/a (no GPU peak)"
    print(f"gpu_check on {gpu}: vistallm-7b architecture, size {size} ({(vision + rest) / 1e9:.2f}B parameters, "
          f"random), batch {batch}, {steps} steps, {tokens:.0f} tokens + {patches:.0f} patches per sample")
    print(f"samples/s {rate:.2f} (mean of the logged windows after the first); {flops / 1e9:.1f} GFLOPs per sample; "
          f"MFU {mfu}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

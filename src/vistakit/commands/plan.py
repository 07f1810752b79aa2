"""``vistakit plan``: per-GPU memory (parameters, gradients, optimizer state, activations) and a step-time
estimate for a preset under DDP, FSDP and FSDP + LoRA (:mod:`vistakit.train.plan`; estimates, not measurements).

    vistakit plan --preset vistallm-7b --gpus 8 --gpu-memory 80 --batch 4
    vistakit plan --preset vistallm-siglip --gpus 4 --batch 2 --checkpointing --lora-r 32 --images 2
"""

from __future__ import annotations

import argparse


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default="vistallm-7b", help="model preset (default vistallm-7b)")
    p.add_argument("--gpus", type=int, default=8, help="GPUs sharing the model (default 8)")
    p.add_argument("--gpu-memory", type=float, default=80.0, help="memory per GPU in GB (default 80)")
    p.add_argument("--batch", type=int, default=4, help="samples per GPU per step (default 4)")
    p.add_argument("--tokens", type=int, default=512, help="text tokens per sample (default 512)")
    p.add_argument("--images", type=int, default=1, help="images per sample (default 1)")
    p.add_argument("--lora-r", type=int, default=32, help="LoRA rank for the fsdp+lora row (default 32, VisionLLM v2's)")
    p.add_argument("--checkpointing", action="store_true", help="with activation checkpointing")
    p.add_argument("--train-vision", action="store_true", help="the vision tower trains too (default frozen)")
    p.add_argument("--peak-tflops", type=float, default=989.0, help="GPU bf16 dense peak (default 989, an H100 SXM)")
    p.add_argument("--mfu", type=float, default=0.4, help="assumed model-FLOPs utilisation (default 0.4)")
    p.add_argument("overrides", nargs="*", metavar="a.b=value", help="model preset overrides, e.g. lm.layers=40")


def run(args: argparse.Namespace) -> int:
    from ..model.presets import make_config
    from ..train.plan import MODES, format_plans, part_sizes, plan

    if args.lora_r < 1:
        raise ValueError(f"--lora-r must be >= 1, got {args.lora_r}")
    if not args.gpu_memory > 0 or not args.peak_tflops > 0 or not 0 < args.mfu <= 1:
        raise ValueError("--gpu-memory and --peak-tflops must be > 0 and --mfu in (0, 1]")
    config = make_config(args.preset, args.overrides)
    sizes = part_sizes(config, args.lora_r)
    plans = [plan(sizes, config, m, args.gpus, args.batch, args.tokens, args.images, args.checkpointing,
                  args.train_vision) for m in MODES]  # fmt: skip
    print(f"{args.preset}: vision tower {sizes.vision / 1e9:.2f}B, LM {sizes.lm / 1e9:.2f}B, image tokenizer and "
          f"decoders {sizes.other / 1e6:.0f}M parameters; LoRA r={args.lora_r} on the LM: {sizes.lora / 1e6:.1f}M")
    print(f"{args.gpus} GPUs of {args.gpu_memory:g} GB, {args.batch} samples per GPU of {args.tokens} text tokens + "
          f"{args.images} image(s) × {config.tokens_per_image} tokens"
          f"{', activation checkpointing' if args.checkpointing else ''}; per GPU:")  # fmt: skip
    for line in format_plans(plans, args.gpu_memory, args.gpus, args.batch, args.peak_tflops, args.mfu):
        print(line)
    print(f"bytes per parameter: 16 trained (bf16 weight + grad, fp32 master + Adam moments), 2 frozen; step time at "
          f"{args.mfu:.0%} of {args.peak_tflops:g} TFLOPs — estimates; measure with scripts/gpu_check.sh")  # fmt: skip
    return 0

"""Memory and throughput planner (``vistakit plan``): what one GPU holds when a preset trains under DDP, FSDP
(ZeRO-3-style sharding of parameters, gradients and optimizer state) or FSDP + LoRA, and a step-time estimate.

The accounting (bytes per parameter, mixed precision with AdamW, as in the ZeRO paper, Rajbhandari et al. 2020):
a trained parameter costs 2 (bf16 weight) + 2 (bf16 gradient) + 12 (fp32 master weight and Adam's two moments)
= 16 bytes; a frozen one 2 (its bf16 weight). DDP keeps all of it on every GPU; FSDP divides it by the GPU count
and adds the gathered weights of the largest shard unit (a transformer block, two in flight). So a 7B LM fully
fine-tuned under DDP needs 7e9 × 16 = 112 GB on every GPU.

Activations, per sample: each LM layer keeps about 34 × hidden bytes per token in bf16 (Korthikanti et al.
2022, with fused attention, so no sequence-squared term), each trained tower layer the same per patch; with
activation checkpointing only each layer's 2 × hidden input is kept, plus one layer's full set. The loss
adds the fp32 logits and their gradient (8 × vocab bytes per token). Parameter counts come from the preset's
sizes (Llama-family LM, CLIP / SigLIP tower); the image tokenizer and decoders are built on the meta device
and counted. Compute: 6 FLOPs per trained parameter per token, 4 per frozen one that gradients pass through
(LoRA's base), 2 per frozen one they do not (the frozen tower); the step time assumes ``mfu`` of the GPU's peak.
Estimates, not measurements: ``scripts/gpu_check.sh`` measures a real step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..model.config import ModelConfig

GB = 1e9
TRAINED_BYTES = 16  # bf16 weight + bf16 gradient + fp32 master + Adam m + Adam v
FROZEN_BYTES = 2  # a bf16 weight
MODES = ("ddp", "fsdp", "fsdp+lora")


@dataclass(frozen=True)
class PartSizes:
    """Parameter counts of a model's parts (``block``: the largest transformer block, FSDP's gather unit)."""

    vision: int
    lm: int
    other: int  # image tokenizer, decoders, heads
    lm_block: int
    vision_block: int
    lora: int  # adapters on the LM's q, k, v, o projections at the planned rank

    @property
    def total(self) -> int:
        return self.vision + self.lm + self.other


def llama_params(config: ModelConfig) -> tuple[int, int]:
    """(all, one block) parameters of the config's Llama-family LM (untied embeddings, grouped KV heads)."""
    lm = config.lm
    h, inter, layers = lm.hidden, lm.intermediate, lm.layers
    kv = (lm.kv_heads or lm.heads) * (h // lm.heads)
    block = 2 * h * h + 2 * h * kv + 3 * h * inter + 2 * h
    vocab = lm.vocab_size if lm.vocab_size > 0 else 32000 + config.bins + 64  # the LM's words + location and grammar tokens
    return layers * block + 2 * vocab * h + h, block


def vit_params(config: ModelConfig) -> tuple[int, int]:
    """(all, one block) parameters of the config's CLIP / SigLIP-style tower (MLP ratio from the known towers)."""
    v = config.vision
    d = v.dim
    mlp = {1024: 4096, 1152: 4304}.get(d, int(d * v.mlp_ratio))
    block = 4 * d * d + 4 * d + 2 * d * mlp + mlp + d + 4 * d
    patches = (v.image_size // v.patch_size) ** 2
    # patch embedding, class and position embeddings (one more position for the class token), two layer norms
    return v.depth * block + 3 * v.patch_size**2 * d + d + (patches + 1) * d + 4 * d, block


def other_params(config: ModelConfig) -> int:
    """The image tokenizer's and the decoders' parameters, counted on a meta-device build."""
    from ..model.image_tokenizer import build_image_tokenizer
    from ..model.mask_decoder import MaskDecoder

    with torch.device("meta"):
        n = sum(p.numel() for p in build_image_tokenizer(config.image_tokenizer, config.vision.dim,
                                                         config.lm.hidden).parameters())  # fmt: skip
        if config.mask_decoder.enabled:
            n += sum(p.numel() for p in MaskDecoder(config.lm.hidden, config.vision.dim, config.mask_decoder.dim).parameters())
    return n


def part_sizes(config: ModelConfig, lora_r: int) -> PartSizes:
    lm, lm_block = llama_params(config)
    vision, vision_block = vit_params(config)
    h = config.lm.hidden
    kv = (config.lm.kv_heads or config.lm.heads) * (h // config.lm.heads)
    lora = config.lm.layers * lora_r * ((h + h) * 2 + (h + kv) * 2)  # q, o: h→h; k, v: h→kv
    return PartSizes(vision, lm, other_params(config), lm_block, vision_block, lora)


@dataclass(frozen=True)
class Plan:
    """One mode's per-GPU memory (bytes) and compute."""

    mode: str
    params: float
    grads: float
    optimizer: float
    activations: float
    trained: int
    step_flops: float

    @property
    def total(self) -> float:
        return self.params + self.grads + self.optimizer + self.activations


def plan(sizes: PartSizes, config: ModelConfig, mode: str, gpus: int, batch: int, text_tokens: int, images: int,
         checkpointing: bool = False, train_vision: bool = False) -> Plan:  # fmt: skip
    """Per-GPU memory of ``mode`` (:data:`MODES`) for ``batch`` samples per GPU, each ``text_tokens`` of text and
    ``images`` images. The LM trains fully (``ddp``, ``fsdp``) or through adapters (``fsdp+lora``); the image
    tokenizer and decoders train; the tower trains only with ``train_vision``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
    for name, v in (("gpus", gpus), ("batch", batch), ("text_tokens", text_tokens)):
        if v < 1:
            raise ValueError(f"{name} must be >= 1, got {v}")
    if images < 0:
        raise ValueError(f"images must be >= 0, got {images}")
    lora = mode == "fsdp+lora"
    trained = sizes.other + (sizes.lora if lora else sizes.lm) + (sizes.vision if train_vision else 0)
    frozen = (sizes.lm if lora else 0) + (0 if train_vision else sizes.vision)
    shard = 1 if mode == "ddp" else gpus
    params = (trained * 2 + frozen * FROZEN_BYTES) / shard
    grads = trained * 2 / shard
    optimizer = trained * 12 / shard
    if mode != "ddp":  # the gathered bf16 weights of the shard units in flight (the current and the prefetched)
        params += 2 * 2 * max(sizes.lm_block, sizes.vision_block if train_vision else 0)
    tokens = text_tokens + images * config.tokens_per_image
    patches = images * (config.vision.image_size // config.vision.patch_size) ** 2
    h, d = config.lm.hidden, config.vision.dim
    per_layer = 2 * h if checkpointing else 34 * h
    act = tokens * (config.lm.layers * per_layer + (34 * h if checkpointing else 0))
    if train_vision:
        act += patches * (config.vision.depth * (2 * d if checkpointing else 34 * d) + (34 * d if checkpointing else 0))
    vocab = config.lm.vocab_size if config.lm.vocab_size > 0 else 32000 + config.bins + 64
    act += tokens * vocab * 8  # fp32 logits and their gradient
    flops_per_token = 6 * trained + (4 * sizes.lm if lora else 0)
    vision_flops = (6 if train_vision else 2) * sizes.vision * patches
    step_flops = batch * (tokens * flops_per_token + vision_flops)
    return Plan(mode, params, grads, optimizer, act * batch, trained, step_flops)


def format_plans(plans: list[Plan], gpu_memory_gb: float, gpus: int, batch: int, peak_tflops: float,
                 mfu: float) -> list[str]:  # fmt: skip
    head = f"{'mode':<10} {'trained':>9} {'params':>8} {'grads':>8} {'optim':>8} {'activ':>8} {'total':>8}  fits  " \
           f"{'step s':>7} {'samples/s':>10}"  # fmt: skip
    lines = [head, "-" * len(head)]
    for p in plans:
        fits = "yes" if p.total <= gpu_memory_gb * GB else "NO "
        step = p.step_flops / (peak_tflops * 1e12 * mfu)
        lines.append(f"{p.mode:<10} {p.trained / 1e9:>8.2f}B {p.params / GB:>7.1f}G {p.grads / GB:>7.1f}G "
                     f"{p.optimizer / GB:>7.1f}G {p.activations / GB:>7.1f}G {p.total / GB:>7.1f}G  {fits}  "
                     f"{step:>7.2f} {batch * gpus / step if step > 0 else math.inf:>10.1f}")  # fmt: skip
    return lines

"""Which parameters train (the stage), the optimizer over them (AdamW, or Muon + AdamW) and the learning-rate
schedule (linear warmup + cosine).

Stages follow VistaLLM's recipe on a model composed as ``model.vision``, ``model.image_tokenizer`` and
``model.lm`` (:class:`vistakit.model.modeling.VistaModel`): ``full`` trains everything, ``stage1`` freezes the
vision encoder, ``stage2`` freezes the vision encoder and the language model (the image tokenizer trains).
``mask_decoder`` trains the super-link mask decoder alone, on a trained model whose every other weight stays fixed.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from ..registry import Registry
from .config import OPTIMIZERS
from .muon import MuonAdamW, muon_groups

# stage name → the model's submodules it freezes
STAGE_FREEZES: Registry[tuple[str, ...]] = Registry("training stage")
STAGE_FREEZES.add("full", ())
STAGE_FREEZES.add("stage1", ("vision",))
STAGE_FREEZES.add("stage2", ("vision", "lm"))
# stage name → the only submodules it trains (everything else frozen)
STAGE_TRAINS_ONLY: Registry[tuple[str, ...]] = Registry("training stage")
STAGE_TRAINS_ONLY.add("mask_decoder", ("mask_decoder",))  # a decoder added to a trained model, which stays as it was


def apply_stage(model: nn.Module, stage: str) -> dict[str, int]:
    """Set ``requires_grad`` for ``stage``; returns ``{"trainable": n, "frozen": m}`` parameter counts.

    Raises ``KeyError`` for an unknown stage and ``ValueError`` when the model lacks a submodule the stage
    freezes or trains (so a renamed module cannot silently train everything).
    """
    children = {n for n, m in model.named_children() if m is not None}
    if stage in STAGE_TRAINS_ONLY:
        parts = STAGE_TRAINS_ONLY.get(stage)
        missing = [p for p in parts if p not in children]
        if missing:
            raise ValueError(f"stage {stage!r} trains {missing}, but the model has only {sorted(children)}"
                             + (" (set model.mask_decoder.enabled=true)" if "mask_decoder" in missing else ""))

        def trains(name: str) -> bool:
            return name.split(".", 1)[0] in parts
    else:
        frozen_parts = STAGE_FREEZES.get(stage)
        missing = [p for p in frozen_parts if p not in children]
        if missing:
            raise ValueError(f"stage {stage!r} freezes {missing}, but the model has only {sorted(children)}")

        def trains(name: str) -> bool:
            return name.split(".", 1)[0] not in frozen_parts

    counts = {"trainable": 0, "frozen": 0}
    for name, p in model.named_parameters():
        train = trains(name)
        p.requires_grad_(train)
        counts["trainable" if train else "frozen"] += p.numel()
    if counts["trainable"] == 0:
        raise ValueError(f"stage {stage!r} leaves no trainable parameter in this model")
    return counts


def build_optimizer(
    model: nn.Module, lr: float, weight_decay: float, betas: tuple[float, ...] = (0.9, 0.95), kind: str = "adamw"
) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters: weight decay on matrices (dim >= 2, embeddings included), none on
    biases and norm scales. ``kind="muon"``: :class:`~vistakit.train.muon.MuonAdamW`, Muon on most matrices and
    AdamW on the rest (:func:`~vistakit.train.muon.muon_groups`)."""
    if kind == "muon":
        return MuonAdamW(muon_groups(model, weight_decay), lr=lr, weight_decay=weight_decay, betas=tuple(betas))
    if kind != "adamw":
        raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {kind!r}")
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=lr, betas=tuple(betas))


def lr_factor(step: int, total: int, warmup: int, min_ratio: float, schedule: str = "cosine") -> float:
    """Multiplier of the peak learning rate at optimizer step ``step`` (0-based): linear warmup over ``warmup``
    steps, then cosine decay to ``min_ratio`` at ``total`` (``constant``: stays at 1 after warmup)."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    if schedule != "cosine":
        raise ValueError(f"schedule must be 'cosine' or 'constant', got {schedule!r}")
    span = max(1, total - warmup)
    progress = min(1.0, (step - warmup) / span)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_scheduler(
    optimizer: torch.optim.Optimizer, total: int, warmup: int, min_ratio: float, schedule: str = "cosine"
) -> torch.optim.lr_scheduler.LambdaLR:
    fn: Callable[[int], float] = lambda s: lr_factor(s, total, warmup, min_ratio, schedule)  # noqa: E731
    return torch.optim.lr_scheduler.LambdaLR(optimizer, fn)

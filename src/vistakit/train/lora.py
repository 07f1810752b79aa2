"""LoRA in a training run (the ``lora_*`` settings): put adapters on a new model, or keep those a resumed
checkpoint brought, and decide what trains. The adapters themselves (peft, their checkpoint format, merging)
live in :mod:`vistakit.model.lora`."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

from ..model.lora import add_lora, has_lora, lora_parts, mark_trainable
from .config import TrainConfig
from .distributed import Context


def apply_lora(model: nn.Module, cfg: TrainConfig, ctx: Context) -> dict[str, int]:
    """After the stage has set what trains: add ``cfg``'s adapters unless the model already carries them (a
    resumed run), freeze the adapted parts' own weights and train their adapters. New adapters get rank 0's
    initial values in every process. Returns ``{"trainable": n, "frozen": m, "lora": k}`` parameter counts."""
    if not has_lora(model):
        add_lora(model, cfg.lora_settings())
        if ctx.active:
            with torch.no_grad():
                for name, p in model.named_parameters():
                    if "lora_" in name:
                        dist.broadcast(p.data, src=0)
    elif cfg.lora_r and cfg.lora_modules and sorted(lora_parts(model)) != sorted(cfg.lora_modules):
        raise ValueError(f"the checkpoint's LoRA adapters are on {lora_parts(model)}, but lora_modules is "
                         f"{list(cfg.lora_modules)}; resume with the settings it was trained with")  # fmt: skip
    mark_trainable(model)
    counts = {"trainable": 0, "frozen": 0, "lora": 0}
    for name, p in model.named_parameters():
        counts["trainable" if p.requires_grad else "frozen"] += p.numel()
        if "lora_" in name:
            counts["lora"] += p.numel()
    if counts["trainable"] == 0:
        raise ValueError(f"stage {cfg.stage!r} with LoRA leaves no trainable parameter in this model")
    return counts

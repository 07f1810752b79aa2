"""Sharded data-parallel training (``parallel=fsdp``): torch FSDP2 (``fully_shard``) splits every parameter,
its gradient and its optimizer state over the processes, so a model too big for one device's memory trains on
several (the planner, ``vistakit plan``, says how much each holds).

Same launchers and the same batches as :mod:`.distributed` (``vistakit train --procs N`` or torchrun); what
changes is what each process holds. Each transformer block of the LM and of an HF vision tower (the classes a
Hugging Face model lists in ``_no_split_modules``) is its own shard unit, gathered just before its forward and
backward and freed after; everything else is one unit at the root. FSDP's reduce-scatter averages the gradients,
so a step is the same as under DDP: the mean of the processes' batch-share losses. ``bf16=true`` gathers the
weights in bfloat16 and reduces the gradients in float32 (``MixedPrecisionPolicy``); ``activation_checkpointing``
recomputes the blocks in the backward pass (Hugging Face's gradient checkpointing, non-reentrant).

Checkpoints (``OUT/checkpoints/step-NNNNNNN/``, written by every process together, then renamed into place):

    sharded/                       torch.distributed.checkpoint (DCP): model and optimizer, one file per process;
                                   resumed by any number of processes (DCP reshards on load)
    training_state.pt              scheduler and RNG state (rank 0's)
    config.json, model.safetensors the consolidated model (gathered to rank 0), which ``from_pretrained`` reads;
    lora/                          its LoRA adapters apart, as every vistakit checkpoint keeps them
    trainer_state.json             step and settings; written last

The final model is consolidated the same way into ``OUT``. Assumes every process sees the same ``OUT`` folder
(one machine, or a shared file system).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from . import checkpoint as ckpt
from .distributed import Context, average_gradients, barrier

SHARDED_DIR = "sharded"


def block_classes(model: nn.Module) -> set[str]:
    """The class names of the transformer blocks inside ``model``: those its Hugging Face parts name in
    ``_no_split_modules`` (e.g. ``LlamaDecoderLayer``, ``CLIPEncoderLayer``)."""
    names: set[str] = set()
    for m in model.modules():
        names.update(getattr(m, "_no_split_modules", None) or ())
    return names


def enable_activation_checkpointing(model: nn.Module) -> list[str]:
    """Recompute the LM's (and an HF vision tower's) block activations in the backward pass; returns the parts
    switched. Non-reentrant, so frozen inputs (LoRA on a frozen LM) still get their gradients."""
    done = []
    for name, part in (("lm", getattr(model, "lm", None)), ("vision", getattr(getattr(model, "vision", None), "model", None))):
        if part is not None and getattr(part, "supports_gradient_checkpointing", False):
            part.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            done.append(name)
    if not done:
        raise ValueError("activation_checkpointing: no part of this model supports it (it needs a Hugging Face LM "
                         "or vision tower)")  # fmt: skip
    return done


def shard_model(model: nn.Module, bf16: bool = False) -> list[nn.Parameter]:
    """Apply FSDP2 to ``model`` in place (the process group must be up): each block of :func:`block_classes` its
    own unit, the rest at the root. Scalar parameters (a few learned temperatures and gains), which FSDP cannot
    shard, stay whole in every process: they are returned, and :func:`average` averages their gradients."""
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    policy = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if bf16 \
        else MixedPrecisionPolicy()  # fmt: skip
    scalars = [p for p in model.parameters() if p.dim() == 0]
    classes = block_classes(model)
    blocks = [m for m in model.modules() if type(m).__name__ in classes]
    for block in blocks:
        fully_shard(block, mp_policy=policy)
    fully_shard(model, mp_policy=policy, ignored_params=set(scalars))
    return scalars


def average(unsharded: Sequence[nn.Parameter], values: Sequence[float], ctx: Context) -> list[float]:
    """Average the gradients of the ``unsharded`` parameters (FSDP averaged the rest) and ``values`` (the logged
    losses) over the processes in one all-reduce; returns the averaged values."""
    params = [p for p in unsharded if p.requires_grad]
    if params:
        return average_gradients(params, ctx, values)
    if not ctx.active:
        return list(values)
    t = torch.tensor([float(v) for v in values], dtype=torch.float64)
    dist.all_reduce(t)
    return (t / ctx.world).tolist()


def clip_grad_norm(params: Sequence[nn.Parameter], max_norm: float) -> torch.Tensor:
    """``clip_grad_norm_`` over a mix of sharded (DTensor) and whole parameters: the global L2 norm of all
    gradients (each shard's squares summed across processes, the whole ones counted once), every gradient scaled
    by ``min(1, max_norm / norm)``. Returns the norm (before clipping)."""
    from torch.distributed.tensor import DTensor

    local, whole = torch.zeros((), dtype=torch.float64), torch.zeros((), dtype=torch.float64)
    grads = [p.grad for p in params if p.grad is not None]
    for g in grads:
        if isinstance(g, DTensor):
            local += g.to_local().double().pow(2).sum()
        else:
            whole += g.double().pow(2).sum()
    if dist.is_initialized():
        dist.all_reduce(local)
    norm = (local + whole).sqrt()
    coef = min(1.0, max_norm / (float(norm) + 1e-6))
    if coef < 1.0:
        for g in grads:
            g.mul_(coef)
    return norm.float()


def _plain_copy(model: nn.Module) -> nn.Module:
    """An unsharded model of the same config and LoRA layout holding ``model``'s full weights (gathered from
    every process; only rank 0's copy holds them, the others get ``None``)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    from ..model.lora import copy_lora_layout
    from ..model.modeling import build_model

    full = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if dist.get_rank() != 0:
        return None  # type: ignore[return-value]
    with torch.device("meta"):  # no memory for the copy's own weights: the gathered ones are assigned in
        plain = build_model(model.config, load_weights=False)
        copy_lora_layout(model, plain)
    # each tensor in storage of its own (gathered ones may be views into one buffer, which safetensors refuses)
    plain.load_state_dict({k: v.detach().clone() for k, v in full.items()}, assign=True)
    return plain


def save_checkpoint(out: str | Path, step: int, model: nn.Module, processor: Any, optimizer: torch.optim.Optimizer,
                    scheduler: Any, state: dict[str, Any], keep: int, ctx: Context) -> Path:  # fmt: skip
    """Write the checkpoint of ``step`` (every process calls this; see the module docstring for the layout)."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict

    final = ckpt.checkpoint_dir(out, step)
    tmp = final.parent / f".tmp-{final.name}-sharded"
    plain = _plain_copy(model)
    if ctx.main:
        final.parent.mkdir(parents=True, exist_ok=True)
        if tmp.exists():
            shutil.rmtree(tmp)
        plain.save_pretrained(tmp, processor)
        torch.save({"scheduler": scheduler.state_dict(), "torch_rng": torch.get_rng_state()},
                   tmp / ckpt.TENSOR_STATE_FILE)  # fmt: skip
    del plain
    barrier(ctx)
    model_state, optim_state = get_state_dict(model, optimizer)
    dcp.save({"model": model_state, "optimizer": optim_state}, checkpoint_id=str(tmp / SHARDED_DIR))
    barrier(ctx)
    if ctx.main:
        info = {**state, "step": int(step), "parallel": "fsdp", "processes": ctx.world,
                "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S")}  # fmt: skip
        (tmp / ckpt.STATE_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        ckpt._replace_dir(tmp, final)
        if keep > 0:
            for _, old in ckpt.list_checkpoints(out)[:-keep]:
                shutil.rmtree(old, ignore_errors=True)
    barrier(ctx)
    return final


def restore(folder: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any) -> None:
    """Load a sharded checkpoint's model and optimizer shards (DCP, resharded to this run's processes) and its
    scheduler and RNG state into a sharded ``model`` and its ``optimizer`` (every process calls this)."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.default_planner import DefaultLoadPlanner
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

    folder = Path(folder)
    shards = folder / SHARDED_DIR
    if not (shards / ".metadata").is_file():
        raise FileNotFoundError(f"{folder} has no sharded state ({shards}/.metadata); it was not written by "
                                f"parallel=fsdp — resume it with parallel=ddp")  # fmt: skip
    model_state, optim_state = get_state_dict(model, optimizer)
    state = {"model": model_state, "optimizer": optim_state}
    # partial: AdamW keeps no state for a parameter that never had a gradient (e.g. a tower layer past the one
    # read), while the template made here has one for every parameter; those keep their fresh (zero) state
    dcp.load(state, checkpoint_id=str(shards), planner=DefaultLoadPlanner(allow_partial_load=True))
    set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optimizer"])
    tensors = torch.load(folder / ckpt.TENSOR_STATE_FILE, map_location="cpu", weights_only=True)
    scheduler.load_state_dict(tensors["scheduler"])
    torch.set_rng_state(tensors["torch_rng"])


def export_model(model: nn.Module, processor: Any, out: str | Path, ctx: Context) -> None:
    """The consolidated final model into ``out`` (every process calls this; rank 0 writes)."""
    plain = _plain_copy(model)
    if ctx.main:
        ckpt.export_model(plain, processor, out)
    barrier(ctx)

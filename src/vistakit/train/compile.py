"""``compile=true``: ``torch.compile`` the model's main parts in place for training.

A model with ``compile_units()`` (:class:`vistakit.model.VistaModel`: the vision tower, the image tokenizer, the
language model's decoder body) has each of those parts compiled whole, so the glue between their blocks (norms,
rotary embeddings, masks, FiLM) is fused too; any other module gets every child of its ``ModuleList`` s compiled
instead (the stacked blocks). Each with ``dynamic=True``, since batches change length from step to step. The first
steps pay for the compiling (one to three minutes on two CPU cores; less once inductor's on-disk cache holds the
kernels) and later steps run fused kernels. Weights, their names and checkpoints are unchanged: ``Module.compile``
compiles the call, not the module.

Generation during validation runs eagerly (:func:`eager`): its cache-carrying calls would only trigger more
compiles for little gain.
"""

from __future__ import annotations

import contextlib
import shutil

import torch
from torch import nn

COMPILERS = ("g++", "c++", "clang++")


def check_compiler(device: torch.device) -> None:
    """On the CPU, torch.compile builds C++ kernels: fail early and clearly when no C++ compiler is installed."""
    if device.type == "cpu" and not any(shutil.which(c) for c in COMPILERS):
        raise ValueError(
            f"compile=true on the CPU needs a C++ compiler on PATH (one of {', '.join(COMPILERS)}) for torch.compile; "
            "install one (e.g. apt install g++) or train without compile=true"
        )


def compile_model(model: nn.Module, backend: str = "inductor") -> list[str]:
    """Compile ``model``'s parts in place (its ``compile_units()``, else the children of its ``ModuleList`` s);
    return their names. ``backend``: torch.compile's (``inductor`` generates the fused kernels; ``aot_eager``
    traces without them)."""
    units = getattr(model, "compile_units", None)
    if callable(units):
        parts = dict(units())
    else:
        parts = {f"{name}.{i}": child for name, m in model.named_modules() if isinstance(m, nn.ModuleList)
                 for i, child in enumerate(m)}  # fmt: skip
    for part in parts.values():
        part.compile(dynamic=True, backend=backend)
    return list(parts)


def eager() -> contextlib.AbstractContextManager:
    """Run compiled modules eagerly inside the block (generation, evaluation)."""
    return torch.compiler.set_stance("force_eager")

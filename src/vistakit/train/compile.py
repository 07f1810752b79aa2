"""``compile=true``: ``torch.compile`` the model's repeated blocks in place for training.

Every child of a ``ModuleList`` is compiled (the language model's decoder layers, the vision tower's blocks, the
image tokenizer's query layers — whatever the architecture stacks), each with ``dynamic=True`` since batches
change length from step to step. Blocks of one class share their compiled code, so the first step pays for one
compile per block class (about a minute on two CPU cores) and later steps run fused kernels. Weights, their
names and checkpoints are unchanged: ``Module.compile`` compiles the call, not the module.

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


def compile_blocks(model: nn.Module, backend: str = "inductor") -> int:
    """Compile every child of every ``ModuleList`` in ``model`` in place; return how many were compiled.
    ``backend``: torch.compile's (``inductor`` generates the fused kernels; ``aot_eager`` traces without them)."""
    blocks = [child for m in model.modules() if isinstance(m, nn.ModuleList) for child in m]
    for b in blocks:
        b.compile(dynamic=True, backend=backend)
    return len(blocks)


def eager() -> contextlib.AbstractContextManager:
    """Run compiled modules eagerly inside the block (generation, evaluation)."""
    return torch.compiler.set_stance("force_eager")

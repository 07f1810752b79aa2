"""Checks run on a checkpoint before anything is allocated: its weights file is whole, and the model its
``config.json`` describes fits in memory.

Size cap: :func:`count_params` builds the model on PyTorch's ``meta`` device (shapes only, no memory, exact for
every part) and :func:`check_model_size` refuses a config whose float32 weights would need more than the
machine's available memory — a hand-edited ``lm.hidden: 1000000`` fails in well under a second with one line
instead of trying to allocate tens of gigabytes. Set the environment variable ``VISTAKIT_MAX_PARAMS`` to a
parameter count to replace that cap (higher to allow a model anyway, e.g. when it will be moved to a GPU with
more memory; lower to be strict).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

MAX_PARAMS_ENV = "VISTAKIT_MAX_PARAMS"
BYTES_PER_PARAM = 4  # float32, the dtype checkpoints are built in before any cast


def check_weights_file(path: str | Path) -> None:
    """Raise ``ValueError`` naming ``path`` if it is not a whole safetensors file (truncated, empty, not
    safetensors). Reads only the header: safetensors checks that the header's offsets cover the file exactly."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no weights file at {path}")
    try:
        with safe_open(str(path), framework="pt") as fh:
            fh.keys()
    except (SafetensorError, OSError) as exc:
        raise ValueError(f"{path}: not a whole safetensors file ({exc}); the checkpoint is damaged or was cut "
                         f"short — use another checkpoint or save it again") from None  # fmt: skip


def count_params(config: Any) -> int:
    """The exact parameter count of the model ``config`` (a :class:`~.config.ModelConfig`) describes, without
    allocating it (built on the ``meta`` device, pretrained parts from their stored configs)."""
    from .modeling import build_model  # here, not at the top: modeling imports this module's users

    with torch.device("meta"):
        model = build_model(config, load_weights=False)
    return sum(p.numel() for p in model.parameters())


def max_params() -> int:
    """The cap of :func:`check_model_size`: ``$VISTAKIT_MAX_PARAMS`` if set, else how many float32 parameters fit
    in the memory available now."""
    env = os.environ.get(MAX_PARAMS_ENV)
    if env is not None:
        try:
            value = int(float(env))
        except ValueError:
            raise ValueError(f"${MAX_PARAMS_ENV} must be a parameter count such as 2e9, got {env!r}") from None
        if value < 1:
            raise ValueError(f"${MAX_PARAMS_ENV} must be a positive parameter count, got {env!r}")
        return value
    import psutil

    return psutil.virtual_memory().available // BYTES_PER_PARAM


def check_model_size(config: Any, where: str) -> int:
    """Raise ``ValueError`` naming ``where`` (the config's file) when the model is larger than :func:`max_params`;
    returns its parameter count."""
    n = count_params(config)
    cap = max_params()
    if n > cap:
        source = f"${MAX_PARAMS_ENV}" if MAX_PARAMS_ENV in os.environ else "the memory available now"
        raise ValueError(f"{where}: its sizes describe a model of {n:,} parameters ({n * BYTES_PER_PARAM / 1e9:.1f} "
                         f"GB as float32), more than the {cap:,} allowed by {source}; check the sizes (lm.hidden, "
                         f"lm.layers, vision.dim, …) or set ${MAX_PARAMS_ENV} to allow it")  # fmt: skip
    return n

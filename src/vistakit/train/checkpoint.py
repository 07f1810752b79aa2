"""Atomic training checkpoints: ``OUT/checkpoints/step-NNNNNNN/`` holds a loadable model directory
(``config.json`` + ``model.safetensors`` + tokenizer files, from ``model.save_pretrained``) plus the training
state: ``training_state.pt`` (optimizer, scheduler and RNG state; tensors and plain containers only, read back
with ``torch.load(weights_only=True)``) and ``trainer_state.json`` (step, settings).

Atomicity: everything is written into a hidden sibling ``.tmp-step-…`` folder and the folder is renamed into
place last, so a crash mid-save leaves the previous checkpoints untouched and the half-written folder is never
mistaken for a checkpoint (only ``step-*`` folders holding ``trainer_state.json`` count; hidden leftovers are
removed on the next save). The same temp-then-rename rule writes the final model into ``OUT`` itself.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import time
import zipfile
from pathlib import Path
from typing import Any

import torch

CHECKPOINTS = "checkpoints"
STATE_FILE = "trainer_state.json"
TENSOR_STATE_FILE = "training_state.pt"
_NAME_RE = re.compile(r"^step-(\d{7,})$")


def checkpoint_dir(out: str | Path, step: int) -> Path:
    return Path(out) / CHECKPOINTS / f"step-{int(step):07d}"


def list_checkpoints(out: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints under ``OUT/checkpoints`` as (step, folder), oldest first."""
    root = Path(out) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        m = _NAME_RE.match(p.name)
        if m and p.is_dir() and (p / STATE_FILE).is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest_checkpoint(out: str | Path) -> Path | None:
    found = list_checkpoints(out)
    return found[-1][1] if found else None


def check_checkpoint(folder: str | Path) -> None:
    """Raise ``ValueError`` (or ``FileNotFoundError``) naming the first damaged file of a training checkpoint:
    ``trainer_state.json`` and ``config.json`` must parse and validate, ``model.safetensors`` must be a whole
    safetensors file (header and size) and ``training_state.pt`` a whole zip archive (its central directory,
    which a file cut short loses). Cheap: no tensor is read."""
    from ..model.config import read_config
    from ..model.limits import check_weights_file
    from ..model.modeling import WEIGHTS_FILE

    folder = Path(folder)
    read_trainer_state(folder)
    read_config(folder)
    check_weights_file(folder / WEIGHTS_FILE)
    check_training_state_file(folder / TENSOR_STATE_FILE)


def check_training_state_file(path: Path) -> None:
    """Raise ``ValueError`` naming ``path`` if it is not a whole ``torch.save`` archive."""
    if not path.is_file():
        raise FileNotFoundError(f"{path.parent} is not a training checkpoint: no {TENSOR_STATE_FILE}")
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a whole training-state archive ({exc}); the checkpoint is damaged") from None
    if not any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
        raise ValueError(f"{path}: not a torch.save archive (no data.pkl inside); the checkpoint is damaged")


def newest_intact_checkpoint(out: str | Path) -> tuple[Path | None, list[tuple[Path, str]]]:
    """The newest checkpoint under ``OUT/checkpoints`` that :func:`check_checkpoint` passes, and the newer ones it
    skipped as ``(folder, reason)`` — so ``--resume`` continues from the last good state and says what it
    passed over."""
    skipped: list[tuple[Path, str]] = []
    for _, folder in reversed(list_checkpoints(out)):
        try:
            check_checkpoint(folder)
        except (ValueError, TypeError, FileNotFoundError) as exc:
            skipped.append((folder, str(exc)))
            continue
        return folder, skipped
    return None, skipped


def _replace_dir(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` to ``final``; an existing ``final`` is moved aside first and removed after."""
    old = None
    if final.exists():
        old = final.with_name(f".old-{final.name}-{os.getpid()}")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def save_checkpoint(
    out: str | Path,
    step: int,
    model: Any,
    processor: Any,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    state: dict[str, Any],
    keep: int = 2,
) -> Path:
    """Write the checkpoint of optimizer step ``step`` atomically; keep the newest ``keep`` (0: all).

    ``model.save_pretrained(folder, processor)`` writes the model directory; ``state`` is JSON-serialisable
    (``step`` is added).
    """
    final = checkpoint_dir(out, step)
    root = final.parent
    root.mkdir(parents=True, exist_ok=True)
    for leftover in root.glob(".tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    tmp = root / f".tmp-{final.name}-{os.getpid()}"
    model.save_pretrained(tmp, processor)
    tensors = {
        "optimizer": optimizer.state_dict(),
        "param_names": optimizer_param_names(optimizer, model),
        "scheduler": scheduler.state_dict(),
        "torch_rng": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        tensors["cuda_rng"] = torch.cuda.get_rng_state_all()
    torch.save(tensors, tmp / TENSOR_STATE_FILE)
    info = {**state, "step": int(step), "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    (tmp / STATE_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    _replace_dir(tmp, final)
    if keep > 0:
        for _, old in list_checkpoints(out)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def read_trainer_state(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / STATE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is not a training checkpoint: no {STATE_FILE}")
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except (ValueError, RecursionError) as exc:  # not UTF-8, an integer of thousands of digits, absurd nesting
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).splitlines()[0][:120]
        raise ValueError(f"{path}: not readable JSON ({reason})") from None
    if not isinstance(state, dict) or not isinstance(state.get("step"), int):
        raise ValueError(f"{path}: expected an object with an integer 'step'")
    return state


def optimizer_param_names(optimizer: torch.optim.Optimizer, model: Any) -> list[str]:
    """The names (``model.named_parameters()``) of the optimizer's parameters, in its own order (group by group)."""
    names = {id(p): n for n, p in model.named_parameters()}
    return [names.get(id(p), "?") for g in optimizer.param_groups for p in g["params"]]


def _aligned_optimizer_state(saved: dict[str, Any], saved_names: list[str] | None,
                             optimizer: torch.optim.Optimizer, model: Any, where: Path) -> dict[str, Any]:  # fmt: skip
    """``saved`` (an optimizer ``state_dict``) with its per-parameter entries moved to the positions of the same
    parameters in ``optimizer``: by name where the checkpoint recorded them, else (checkpoints written before it
    did) by position, or by shape among the parameters whose positions no longer fit — a model rebuilt from its
    config may register some modules in another order (e.g. word groups read back from sorted JSON)."""
    params = [p for g in optimizer.param_groups for p in g["params"]]
    names = optimizer_param_names(optimizer, model)
    if len(saved["param_groups"]) != len(optimizer.param_groups) or \
            sum(len(g["params"]) for g in saved["param_groups"]) != len(params):  # fmt: skip
        raise ValueError(f"{where}: its optimizer state covers other parameters than this model's; resume it with "
                         f"the settings it was trained with")  # fmt: skip
    state = saved["state"]
    if saved_names is not None:
        if sorted(saved_names) != sorted(names):
            missing = sorted(set(names) - set(saved_names))[:3]
            raise ValueError(f"{where}: its optimizer state names other parameters than this model's (e.g. "
                             f"{missing}); resume it with the settings it was trained with")  # fmt: skip
        index = {n: i for i, n in enumerate(saved_names)}
        order = [index[n] for n in names]
    else:
        def shape(i: int) -> tuple[int, ...] | None:
            s = state.get(i, {}).get("exp_avg")
            return tuple(s.shape) if s is not None else None

        order = list(range(len(params)))
        bad = [i for i in order if shape(i) not in (None, tuple(params[i].shape))]
        for i in bad:  # a parameter whose saved moments do not fit: take the unique misplaced entry that does
            fits = [j for j in bad if shape(j) == tuple(params[i].shape)]
            if len(fits) != 1:
                raise ValueError(f"{where}: its optimizer state does not fit this model's parameters (no unique "
                                 f"match for {names[i]} {list(params[i].shape)}); resume it with the settings it "
                                 f"was trained with")  # fmt: skip
            order[i] = fits[0]
    groups, k = [], 0
    for g in saved["param_groups"]:
        groups.append({**g, "params": list(range(k, k + len(g["params"])))})
        k += len(g["params"])
    return {"state": {i: state[j] for i, j in enumerate(order) if j in state}, "param_groups": groups}


def restore_training_state(
    folder: str | Path, optimizer: torch.optim.Optimizer, scheduler: Any, model: Any | None = None
) -> None:
    """Load optimizer, scheduler and RNG state saved by :func:`save_checkpoint` (safe: ``weights_only``). With
    ``model``, each parameter gets its own saved optimizer state even if the rebuilt model orders its parameters
    differently (:func:`_aligned_optimizer_state`)."""
    path = Path(folder) / TENSOR_STATE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is not a training checkpoint: no {TENSOR_STATE_FILE}")
    try:
        tensors = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path}: not a readable training state ({first[:200]}); the checkpoint is damaged — "
                         f"resume from an earlier one") from None  # fmt: skip
    saved = tensors["optimizer"]
    if model is not None:
        saved = _aligned_optimizer_state(saved, tensors.get("param_names"), optimizer, model, path)
    optimizer.load_state_dict(saved)
    scheduler.load_state_dict(tensors["scheduler"])
    torch.set_rng_state(tensors["torch_rng"])
    if "cuda_rng" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(tensors["cuda_rng"])


def export_model(model: Any, processor: Any, out: str | Path) -> Path:
    """``model.save_pretrained(…, processor)`` into ``out`` itself (beside ``checkpoints/`` and ``train/``):
    written to a hidden temp folder first, then each file moved into place with an atomic rename,
    ``config.json`` last."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".tmp-export-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(tmp, processor)
    for sub in sorted(p for p in tmp.iterdir() if p.is_dir()):  # LoRA adapters (lora/), in place before config.json
        _replace_dir(sub, out / sub.name)
    files = sorted(p for p in tmp.iterdir() if p.is_file())
    for p in sorted(files, key=lambda p: p.name == "config.json"):
        os.replace(p, out / p.name)
    shutil.rmtree(tmp, ignore_errors=True)
    return out

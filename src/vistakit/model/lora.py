"""LoRA adapters (through ``peft``) on the model's language model and, optionally, its vision tower.

A part with adapters keeps its weights frozen and trains two small matrices beside each targeted linear layer
(``W x + (alpha / r) · B A x``). In a checkpoint folder the part's *base* weights stay in ``model.safetensors``
under their usual names, and its adapters go to ``lora/<part>/`` in peft's own format (``adapter_config.json`` +
``adapter_model.safetensors``, keys ``base_model.model.<module>.lora_A.weight``), so
``peft.PeftModel.from_pretrained(hf_llama, "ckpt/lora/lm")`` reads the LM's adapters too. Loading a checkpoint
(:meth:`VistaModel.from_pretrained`) merges them into the base weights for inference (``merge=False`` keeps them
apart, to resume training).

    add_lora(model, LoraSettings(r=32, alpha=64, parts=("lm",)))   # freeze the LM, train adapters on it
    save_adapters(model, "ckpt/lora"); load_adapters(model, "ckpt/lora"); merge_lora(model)
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from torch import nn

LORA_DIR = "lora"
PARTS = ("lm", "vision")  # the model's submodules that can carry adapters
# Llama-family attention (q/k/v/o_proj) and CLIP / SigLIP attention (q/k/v/out_proj); a part uses those it has.
DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "out_proj")
_ADAPTER = "default"
_PREFIX = "base_model.model."  # peft's PeftModel key prefix, so the saved files load with PeftModel too


@dataclass(frozen=True)
class LoraSettings:
    """``r``: the adapters' rank (> 0); ``alpha``: their scale numerator (the update is ``alpha / r · B A``);
    ``dropout`` on the adapters' input; ``targets``: names of the linear layers to adapt (a layer whose name ends
    with one of them); ``parts``: which of :data:`PARTS` get adapters."""

    r: int
    alpha: float = 16.0
    dropout: float = 0.0
    targets: tuple[str, ...] = DEFAULT_TARGETS
    parts: tuple[str, ...] = ("lm",)

    def validate(self) -> "LoraSettings":
        if isinstance(self.r, bool) or not isinstance(self.r, int) or self.r < 1:
            raise ValueError(f"LoRA rank must be an integer >= 1, got {self.r!r}")
        if not self.alpha > 0:
            raise ValueError(f"LoRA alpha must be > 0, got {self.alpha!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"LoRA dropout must be in [0, 1), got {self.dropout!r}")
        if not self.targets:
            raise ValueError("LoRA targets must name at least one layer (e.g. q_proj,v_proj)")
        bad = [p for p in self.parts if p not in PARTS]
        if bad or not self.parts:
            raise ValueError(f"LoRA parts must be some of {list(PARTS)}, got {list(self.parts)}")
        return self


def _part(model: nn.Module, name: str) -> nn.Module:
    """The module of part ``name`` that peft adapts (an HF vision tower's inner model, the LM itself)."""
    module = getattr(model, name, None)
    if module is None:
        raise ValueError(f"LoRA part {name!r}: the model has no such part (it has {[n for n, _ in model.named_children()]})")
    return module


def _lora_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    from peft.tuners.tuners_utils import BaseTunerLayer

    return [(n, m) for n, m in model.named_modules() if isinstance(m, BaseTunerLayer)]


def has_lora(model: nn.Module) -> bool:
    """Whether any part of ``model`` carries (unmerged) adapters."""
    return bool(_lora_layers(model))


def lora_parts(model: nn.Module) -> list[str]:
    """The parts of ``model`` that carry adapters, in :data:`PARTS` order."""
    return [p for p in PARTS if getattr(model, p, None) is not None and has_lora(getattr(model, p))]


def add_lora(model: nn.Module, settings: LoraSettings) -> int:
    """Put adapters on ``settings.parts`` of ``model`` (in place): each part's own weights freeze, its adapters
    train (B starts at zero, so the model's outputs are unchanged). Returns the adapters' parameter count. A part
    in which no target layer exists raises ``ValueError`` naming the targets."""
    from peft import LoraConfig

    settings.validate()
    if has_lora(model):
        raise ValueError("the model already carries LoRA adapters")
    count = 0
    for name in settings.parts:
        part = _part(model, name)
        config = LoraConfig(r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                            target_modules=list(settings.targets))  # fmt: skip
        _inject(config, part, name)
        count += sum(p.numel() for n, p in part.named_parameters() if "lora_" in n)
    return count


def _inject(config: object, part: nn.Module, name: str) -> None:
    from peft import inject_adapter_in_model

    try:
        inject_adapter_in_model(config, part, adapter_name=_ADAPTER)
    except ValueError as exc:  # peft: "Target modules {...} not found in the base model"
        linear = sorted({n.rsplit(".", 1)[-1] for n, m in part.named_modules() if isinstance(m, nn.Linear)})
        raise ValueError(f"LoRA on {name!r}: {exc.args[0] if exc.args else exc} (its linear layers are named "
                         f"{linear[:12]}); set lora_targets") from None  # fmt: skip


def mark_trainable(model: nn.Module) -> None:
    """In every part with adapters: the adapters train, the part's own weights stay frozen (call after the
    training stage has set what else trains)."""
    for name in lora_parts(model):
        for n, p in getattr(model, name).named_parameters():
            p.requires_grad_("lora_" in n)


@contextlib.contextmanager
def without_lora(model: nn.Module) -> Iterator[nn.Module]:
    """Within the block, ``model`` holds its plain base layers where adapters were (same parameter objects, so
    ``model.state_dict()`` has the usual names); the adapters are put back on leaving."""
    swapped = []
    for name, layer in _lora_layers(model):
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, layer.get_base_layer())
        swapped.append((parent, child, layer))
    try:
        yield model
    finally:
        for parent, child, layer in reversed(swapped):
            setattr(parent, child, layer)


def save_adapters(model: nn.Module, folder: str | Path) -> list[str]:
    """Write each adapted part's adapters to ``folder/<part>/`` in peft's format; returns the parts written."""
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    folder = Path(folder)
    parts = lora_parts(model)
    for name in parts:
        part = getattr(model, name)
        out = folder / name
        out.mkdir(parents=True, exist_ok=True)
        state = get_peft_model_state_dict(part, adapter_name=_ADAPTER)
        save_file({_PREFIX + k: v.detach().contiguous().cpu() for k, v in state.items()},
                  str(out / "adapter_model.safetensors"), metadata={"format": "pt"})  # fmt: skip
        part.peft_config[_ADAPTER].save_pretrained(str(out))
    return parts


def load_adapters(model: nn.Module, folder: str | Path) -> list[str]:
    """Put the adapters saved in ``folder/<part>/`` on those parts of ``model`` (with their saved settings) and
    load their weights; returns the parts. A missing or damaged file raises ``ValueError`` naming it."""
    from peft import LoraConfig, set_peft_model_state_dict
    from safetensors.torch import load_file

    folder = Path(folder)
    parts = [p for p in PARTS if (folder / p).is_dir()]
    if not parts:
        raise ValueError(f"{folder}: no adapters (expected one of {[str(folder / p) for p in PARTS]})")
    for name in parts:
        where = folder / name
        try:
            config = LoraConfig.from_pretrained(str(where))
            weights = load_file(str(where / "adapter_model.safetensors"))
        except (OSError, ValueError, json.JSONDecodeError) as exc:
            raise ValueError(f"{where}: not a readable peft LoRA adapter ({exc})") from None
        part = _part(model, name)
        _inject(config, part, name)
        state = {k[len(_PREFIX):] if k.startswith(_PREFIX) else k: v for k, v in weights.items()}
        result = set_peft_model_state_dict(part, state, adapter_name=_ADAPTER)
        missing = [k for k in getattr(result, "missing_keys", []) if "lora_" in k]
        if missing or getattr(result, "unexpected_keys", []):
            raise ValueError(f"{where}: its adapters do not fit this model (missing {missing[:3]}, unexpected "
                             f"{list(getattr(result, 'unexpected_keys', []))[:3]})")  # fmt: skip
    return parts


def merge_lora(model: nn.Module) -> nn.Module:
    """Fold every adapter into its base weight and drop the adapters (in place): a plain model whose outputs are
    the adapted ones."""
    for name, layer in _lora_layers(model):
        layer.merge()
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, layer.get_base_layer())
    for name in PARTS:
        part = getattr(model, name, None)
        if part is not None and hasattr(part, "peft_config"):
            del part.peft_config
    return model


def copy_lora_layout(src: nn.Module, dst: nn.Module) -> None:
    """Put on ``dst`` (a model of the same config) adapters of the same settings on the same parts as ``src``'s
    (their weights are ``dst``'s fresh ones): the layout ``src``'s state dict needs."""
    for name in lora_parts(src):
        _inject(getattr(src, name).peft_config[_ADAPTER], _part(dst, name), name)

"""Training settings: one typed dataclass, JSON round trip and ``key=value`` overrides from the command line.

Model sizes live in the model presets (:mod:`vistakit.model.presets`), never here; ``model_overrides`` carries
``a.b=value`` strings through to the model config unchanged (the command line spells them ``model.a.b=value``).
Tokenizer settings for presets that train their own tokenizer (``tokenizer_vocab``) live here too, not in the
model config.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

STAGES = ("full", "stage1", "stage2", "mask_decoder")
SCHEDULES = ("cosine", "constant")
OPTIMIZERS = ("adamw", "muon")  # vistakit.train.optim.build_optimizer
PARALLEL = ("ddp", "fsdp")  # vistakit.train.distributed (gradients averaged) / vistakit.train.sharded (FSDP2)
MODEL_PREFIX = "model."


@dataclass
class TrainConfig:
    """Everything a training run needs besides the model preset's sizes.

    ``vision_pretrain_steps`` (> 0 turns it on): a first stage of that many steps that trains the vision tower
    alone on per-patch attribute words of the labelled instances (``vision_pretrain_batch`` images a step, from
    up to ``vision_pretrain_records`` records, words grouped by ``vision_pretrain_vocab``: a JSON file
    ``{group: [words]}``, or ``shapesworld`` for that recipe's words (no default);
    :mod:`vistakit.train.vision_pretrain`); it needs ``stage`` ``full``.
    ``init``: a checkpoint directory to start from instead of a new model of ``preset`` (its config with
    ``model_overrides`` applied, its tokenizer and weights; fresh optimizer and schedule from step 0:
    :func:`vistakit.model.load_for_finetuning`) — fine-tuning, or VistaLLM's stage 2 after a stage-1 run.
    ``stage``: ``full`` trains every parameter; ``stage1`` all but the vision encoder; ``stage2`` the image
    tokenizer only (language model and vision encoder frozen), VistaLLM's second stage; ``mask_decoder`` the mask
    decoder alone (with ``init`` a trained model and ``model.mask_decoder.enabled=true``).
    ``mixture``: task → sampling weight; tasks present in the data but not listed get ``default_weight``
    (0 drops a task). ``steps`` count optimizer updates; each update sees ``batch_size * grad_accum`` samples.
    ``eval_every`` / ``save_every`` / ``log_every`` are in optimizer steps (0 disables). ``bf16``: autocast the
    forward pass to bfloat16 (weights and optimizer stay float32). ``device``: ``auto`` (CUDA when available,
    else CPU) or a torch device string. ``optimizer``: ``adamw``, or ``muon`` (Muon on every 2-D parameter but
    the embedding tables and the LM's output head, AdamW on those and the rest, sharing ``lr`` and
    ``weight_decay``: :mod:`vistakit.train.muon`).
    ``lora_r`` (> 0 turns it on): LoRA adapters of that rank through peft on the parts in ``lora_modules``
    (``lm``, ``vision``), on the linear layers named in ``lora_targets``, scaled ``lora_alpha / lora_r``, with
    ``lora_dropout``; those parts' own weights freeze, their adapters train beside whatever ``stage`` trains, and
    checkpoints keep them in ``lora/`` (:mod:`vistakit.model.lora`). ``parallel``: with several processes, ``ddp``
    (every process holds the whole model, gradients averaged: :mod:`vistakit.train.distributed`) or ``fsdp``
    (parameters, gradients and optimizer state sharded with torch FSDP2: :mod:`vistakit.train.sharded`).
    ``activation_checkpointing``: recompute the LM's (and an HF tower's) layer activations in the backward pass
    instead of keeping them.
    """

    preset: str = "tiny"
    init: str = ""
    data: str = ""
    out: str = ""
    tasks: tuple[str, ...] = ()
    train_split: str = "train"
    val_split: str = "val"
    steps: int = 1000
    batch_size: int = 8
    grad_accum: int = 1
    lr: float = 1e-3
    min_lr_ratio: float = 0.1
    warmup: int = 50
    schedule: str = "cosine"
    weight_decay: float = 0.05
    betas: tuple[float, ...] = (0.9, 0.95)
    optimizer: str = "adamw"
    max_grad_norm: float = 1.0
    bf16: bool = False
    eval_every: int = 200
    save_every: int = 200
    log_every: int = 10
    keep_checkpoints: int = 2
    val_batches: int = 4
    val_records: int = 4
    max_new_tokens: int = 160
    seed: int = 0
    stage: str = "full"
    mixture: dict[str, float] = field(default_factory=dict)
    default_weight: float = 1.0
    tokenizer_vocab: int = 1000
    tensorboard: bool = True
    device: str = "auto"
    compile: bool = False
    vision_pretrain_steps: int = 0
    vision_pretrain_batch: int = 64
    vision_pretrain_records: int = 20000
    vision_pretrain_vocab: str = ""  # no default vocabulary: a recipe names its words (ShapesWorld's: "shapesworld")
    lora_r: int = 0
    lora_alpha: float = 16.0
    lora_dropout: float = 0.0
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "out_proj")
    lora_modules: tuple[str, ...] = ("lm",)
    parallel: str = "ddp"
    activation_checkpointing: bool = False
    model_overrides: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.tasks = tuple(self.tasks)
        self.betas = tuple(float(b) for b in self.betas)
        self.model_overrides = tuple(self.model_overrides)
        self.lora_targets, self.lora_modules = tuple(self.lora_targets), tuple(self.lora_modules)
        self.mixture = {str(k): float(v) for k, v in dict(self.mixture).items()}
        self.validate()

    def validate(self) -> "TrainConfig":
        """Raise ``ValueError`` naming the first bad setting and what it should be."""
        positive = ("steps", "batch_size", "grad_accum", "val_batches", "max_new_tokens", "tokenizer_vocab",
                    "vision_pretrain_batch", "vision_pretrain_records")
        for name in positive:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"train setting {name} must be an integer >= 1, got {v!r}")
        for name in ("warmup", "eval_every", "save_every", "log_every", "keep_checkpoints", "val_records",
                     "vision_pretrain_steps"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"train setting {name} must be an integer >= 0, got {v!r}")
        if not self.lr > 0:
            raise ValueError(f"train setting lr must be > 0, got {self.lr!r}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(f"train setting min_lr_ratio must be in [0, 1], got {self.min_lr_ratio!r}")
        if self.weight_decay < 0 or self.max_grad_norm < 0:
            raise ValueError(
                f"weight_decay and max_grad_norm must be >= 0, got {self.weight_decay!r} and {self.max_grad_norm!r}"
            )
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"train setting betas must be two numbers in [0, 1), got {self.betas!r}")
        if self.stage not in STAGES:
            raise ValueError(f"train setting stage must be one of {list(STAGES)}, got {self.stage!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"train setting optimizer must be one of {list(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"train setting schedule must be one of {list(SCHEDULES)}, got {self.schedule!r}")
        if self.vision_pretrain_steps and self.stage != "full":
            raise ValueError(f"train setting vision_pretrain_steps trains the vision tower: it needs stage 'full', "
                             f"got stage {self.stage!r}")  # fmt: skip
        if self.parallel not in PARALLEL:
            raise ValueError(f"train setting parallel must be one of {list(PARALLEL)}, got {self.parallel!r}")
        if isinstance(self.lora_r, bool) or not isinstance(self.lora_r, int) or self.lora_r < 0:
            raise ValueError(f"train setting lora_r must be an integer >= 0 (0: no LoRA), got {self.lora_r!r}")
        if self.lora_r:
            self.lora_settings()
        bad = {k: v for k, v in self.mixture.items() if not v >= 0}
        if bad or not self.default_weight >= 0:
            raise ValueError(f"mixture weights must be >= 0, got {bad or self.default_weight!r}")
        for o in self.model_overrides:
            if "=" not in o:
                raise ValueError(f"model override {o!r} must look like a.b=value")
        return self

    def lora_settings(self) -> Any:
        """The :class:`vistakit.model.lora.LoraSettings` of ``lora_*`` (validated; ``lora_r`` must be > 0)."""
        from ..model.lora import LoraSettings

        try:
            return LoraSettings(self.lora_r, float(self.lora_alpha), float(self.lora_dropout), self.lora_targets,
                                self.lora_modules).validate()  # fmt: skip
        except ValueError as exc:
            raise ValueError(f"train settings lora_*: {exc}") from None

    # --- JSON ---------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for k, v in out.items():
            if isinstance(v, tuple):
                out[k] = list(v)
        return out

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any], where: str = "train config") -> "TrainConfig":
        if not isinstance(obj, Mapping):
            raise ValueError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        extra = sorted(set(obj) - known)
        if extra:
            raise ValueError(f"{where}: unknown train setting(s) {extra}; known: {sorted(known)}")
        try:
            return cls(**dict(obj))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: {exc}") from None

    def save(self, path: str | Path) -> None:
        """Write the settings as JSON atomically (a resumed run rewrites them; a kill must not truncate them)."""
        from ..atomic import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "TrainConfig":
        path = Path(path)
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        return cls.from_dict(obj, str(path))

    # --- overrides ----------------------------------------------------------------------------------------
    def with_overrides(self, overrides: Sequence[str]) -> "TrainConfig":
        """A copy with ``key=value`` strings applied. ``model.a.b=v`` goes to ``model_overrides`` as ``a.b=v``.

        Values are read by the field's type: ints, floats, booleans (true/false/1/0/yes/no), comma-separated
        lists for ``tasks`` and ``betas``, and ``task:weight,…`` for ``mixture`` (merged into the current one).
        """
        changes: dict[str, Any] = {}
        model = list(self.model_overrides)
        hints = typing.get_type_hints(type(self))
        for item in overrides:
            key, sep, raw = item.partition("=")
            key = key.strip()
            if not sep or not key:
                raise ValueError(f"override {item!r} must look like key=value")
            if key.startswith(MODEL_PREFIX):
                model.append(f"{key[len(MODEL_PREFIX) :]}={raw}")
                continue
            if key not in hints or key == "model_overrides":
                known = sorted(k for k in hints if k != "model_overrides")
                raise ValueError(f"unknown train setting {key!r} in {item!r}; known: {', '.join(known)} (or model.*)")
            if key == "mixture":
                merged = dict(changes.get("mixture", self.mixture))
                merged.update(_parse_mixture(raw, item))
                changes[key] = merged
            else:
                changes[key] = _parse_value(raw.strip(), hints[key], item)
        changes["model_overrides"] = tuple(model)
        return dataclasses.replace(self, **changes)


def _parse_mixture(raw: str, item: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        task, sep, w = part.partition(":")
        try:
            out[task.strip()] = float(w)
        except ValueError:
            sep = ""
        if not sep or not task.strip():
            raise ValueError(f"mixture override {item!r} must look like mixture=task:weight,task:weight")
    return out


def _parse_value(raw: str, hint: Any, item: str) -> Any:
    origin = typing.get_origin(hint)
    try:
        if hint is bool:
            low = raw.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if hint is int:
            return int(raw)
        if hint is float:
            return float(raw)
        if origin is tuple:
            (elem, *_) = typing.get_args(hint)
            return tuple(elem(p.strip()) for p in raw.split(",") if p.strip())
    except ValueError:
        raise ValueError(f"override {item!r}: cannot read {raw!r} as {getattr(hint, '__name__', hint)}") from None
    return raw

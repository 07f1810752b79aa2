"""Entry points that tie a model to its processor: create one from a preset, load one from a checkpoint.

The checkpoint convention: ``model.save_pretrained(dir, processor)`` writes ``config.json``,
``model.safetensors`` and the tokenizer files; :func:`load_pretrained` returns ``(model, processor)``;
:func:`load_for_finetuning` starts a new training run from one (the ``init=DIR`` training setting).
The model itself never holds the processor (the model sees only tensors).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetensors.torch import load_file

from .config import ModelConfig, apply_overrides, read_config
from .limits import check_model_size, check_weights_file
from .modeling import WEIGHTS_FILE, VistaModel, build_model
from .processor import VistaProcessor
from .text_tokenizer import DEFAULT_VOCAB, load_lm_tokenizer, load_tokenizer, train_tokenizer


def build_tokenizer(config: ModelConfig, texts: Iterable[str] | None = None, vocab_size: int = DEFAULT_VOCAB) -> Any:
    """The tokenizer for ``config``: the LM's own (``lm.kind == "hf"``, from ``lm.hf_path``) or a byte-level
    BPE of ``vocab_size`` trained on ``texts`` (prompts and answers) otherwise; both with the vista tokens."""
    if config.lm.kind == "hf":
        if config.lm.hf_path is None:
            raise ValueError("lm.kind 'hf' needs lm.hf_path (a local Hugging Face directory) for its tokenizer")
        return load_lm_tokenizer(config.lm.hf_path, config.bins)
    if texts is None:
        raise ValueError(
            f"preset {config.preset!r} trains its tokenizer: pass texts (prompts and answers) to train it on"
        )
    return train_tokenizer(texts, config.bins, vocab_size)


def create_model(
    config: ModelConfig, texts: Iterable[str] | None = None, vocab_size: int = DEFAULT_VOCAB
) -> tuple[VistaModel, VistaProcessor]:
    """A new ``(model, processor)`` for ``config`` (pretrained HF parts loaded from their local directories)."""
    tokenizer = build_tokenizer(config, texts, vocab_size)
    model = build_model(config, tokenizer)
    return model, VistaProcessor(tokenizer, model.config)


def load_pretrained(
    path: str | Path, map_location: str = "cpu", merge_lora: bool = True
) -> tuple[VistaModel, VistaProcessor]:
    """``(model, processor)`` from a checkpoint directory written by ``model.save_pretrained(path, processor)``;
    offline, safetensors only. The model is returned in eval mode."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"no checkpoint directory at {path}")
    config = read_config(path)  # a bad config.json fails first, naming it
    weights = path / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"{path} is not a vistakit checkpoint: no {WEIGHTS_FILE}")
    check_weights_file(weights)  # a truncated file fails here, naming it, before anything is built
    check_model_size(config, str(path / "config.json"))  # absurd sizes are refused before allocation
    model = VistaModel.from_pretrained(path, map_location, merge_lora=merge_lora)  # merge_lora=False: to resume
    return model, VistaProcessor.from_pretrained(path)


@dataclass
class InitReport:
    """What :func:`load_for_finetuning` did with a checkpoint's weights: ``new`` parameters the overrides added
    (freshly initialised) and ``dropped`` ones the checkpoint has but the changed model does not use."""

    new: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        def names(keys: list[str]) -> str:
            return ", ".join(keys[:4]) + (f" (+{len(keys) - 4} more)" if len(keys) > 4 else "")

        parts = ["every weight loaded"] if not self.new and not self.dropped else []
        if self.new:
            parts.append(f"{len(self.new)} new tensor(s) initialised fresh: {names(self.new)}")
        if self.dropped:
            parts.append(f"{len(self.dropped)} checkpoint tensor(s) unused: {names(self.dropped)}")
        return "; ".join(parts)


def load_for_finetuning(
    path: str | Path, overrides: Iterable[str] = ()
) -> tuple[VistaModel, VistaProcessor, InitReport]:
    """``(model, processor, report)`` to train further from the checkpoint directory ``path``: its config with
    ``"a.b=value"`` ``overrides`` applied, its tokenizer, and its weights wherever the changed model has a tensor
    of the same name and shape. Tensors the overrides add (e.g. ``vision.attribute_weight=0.5`` on a model trained
    without attribute heads) start from their fresh initialisation and are listed in ``report.new``; tensors the
    model no longer has are listed in ``report.dropped``. An override that changes a loaded tensor's shape (e.g.
    ``lm.hidden``) raises ``ValueError`` naming the tensors: those weights cannot be reused. The model is returned
    in train mode on the CPU."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"init: no checkpoint directory at {path}")
    weights = path / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"init: {path} is not a vistakit checkpoint (no {WEIGHTS_FILE})")
    check_weights_file(weights)
    config = apply_overrides(read_config(path), overrides)
    check_model_size(config, f"init: {path / 'config.json'} with the overrides {list(overrides)}")
    tokenizer = load_tokenizer(path)
    model = build_model(config, tokenizer, load_weights=False)
    state = load_file(str(weights))
    own = model.state_dict()
    clash = [
        f"{k} {list(v.shape)} -> {list(own[k].shape)}" for k, v in state.items() if k in own and own[k].shape != v.shape
    ]
    if clash:
        raise ValueError(f"init: the overrides {list(overrides)} change the shape of {len(clash)} tensor(s) of {path} "
                         f"({'; '.join(clash[:3])}); those weights cannot be reused — drop the size-changing "
                         f"override(s) or train from a preset")  # fmt: skip
    model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    report = InitReport(new=sorted(set(own) - set(state)), dropped=sorted(set(state) - set(own)))
    return model.train(), VistaProcessor(tokenizer, model.config), report

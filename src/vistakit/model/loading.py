"""Entry points that tie a model to its processor: create one from a preset, load one from a checkpoint.

The checkpoint convention: ``model.save_pretrained(dir, processor)`` writes ``config.json``,
``model.safetensors`` and the tokenizer files; :func:`load_pretrained` returns ``(model, processor)``.
The model itself never holds the processor (the model sees only tensors).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .config import ModelConfig
from .modeling import VistaModel, build_model
from .processor import VistaProcessor
from .text_tokenizer import DEFAULT_VOCAB, load_lm_tokenizer, train_tokenizer


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


def load_pretrained(path: str | Path, map_location: str = "cpu") -> tuple[VistaModel, VistaProcessor]:
    """``(model, processor)`` from a checkpoint directory written by ``model.save_pretrained(path, processor)``;
    offline, safetensors only. The model is returned in eval mode."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"no checkpoint directory at {path}")
    model = VistaModel.from_pretrained(path, map_location)
    return model, VistaProcessor.from_pretrained(path)

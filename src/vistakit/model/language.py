"""The language model: a ``LlamaForCausalLM`` built from sizes (``llama``) or a causal LM loaded offline from a
local Hugging Face directory (``hf``), with its token embeddings resized to the tokenizer (added grammar and
special tokens).

The returned module is a plain transformers causal LM: ``lm(inputs_embeds=[B, T, H], attention_mask=[B, T],
position_ids=[B, T], past_key_values=…, use_cache=…) → .logits [B, T, V], .past_key_values``. Recent
transformers name the KV cache ``cache`` instead (argument and output); :func:`cache_argument` and
:func:`returned_cache` hide the difference.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from ..registry import Registry
from .config import LMConfig

LANGUAGE_MODELS: Registry[Callable[[LMConfig, bool], nn.Module]] = Registry("language model")


def cache_argument(lm: nn.Module) -> str:
    """The keyword under which ``lm.forward`` takes the KV cache: ``cache`` (transformers 5.2x on) or
    ``past_key_values`` (earlier; deprecated later)."""
    return "cache" if "cache" in inspect.signature(lm.forward).parameters else "past_key_values"


def returned_cache(out: Any) -> Any:
    """The KV cache in an LM output, under either name."""
    cache = getattr(out, "cache", None)
    return cache if cache is not None else getattr(out, "past_key_values", None)


@LANGUAGE_MODELS.register("llama")
def _build_llama(config: LMConfig, load_weights: bool) -> nn.Module:
    """A randomly initialised Llama of the configured sizes (``load_weights`` is moot: nothing to load)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    if config.vocab_size <= 0:
        raise ValueError("lm.vocab_size is unset; build the model with its tokenizer (build_model(config, tokenizer))")
    hf = LlamaConfig(
        vocab_size=config.vocab_size,
        hidden_size=config.hidden,
        num_hidden_layers=config.layers,
        num_attention_heads=config.heads,
        num_key_value_heads=config.kv_heads or config.heads,
        intermediate_size=config.intermediate,
        max_position_embeddings=config.max_positions,
        tie_word_embeddings=False,
        attn_implementation="sdpa",
    )
    return LlamaForCausalLM(hf)


@LANGUAGE_MODELS.register("hf")
def _build_hf(config: LMConfig, load_weights: bool) -> nn.Module:
    """A causal LM from ``config.hf_path`` (weights when ``load_weights``; otherwise built from the stored
    ``hf_config``). Sizes in ``config`` are overwritten by the model's own; ``hf_config`` is filled."""
    from transformers import AutoConfig, AutoModelForCausalLM

    if (load_weights or config.hf_config is None) and (not config.hf_path or not Path(config.hf_path).is_dir()):
        raise FileNotFoundError(
            f"lm kind 'hf' needs lm.hf_path = a local Hugging Face directory; got {config.hf_path!r}"
        )
    if load_weights:
        model = AutoModelForCausalLM.from_pretrained(config.hf_path, local_files_only=True, attn_implementation="sdpa")
    else:
        if config.hf_config is not None:
            model_type = config.hf_config.get("model_type")
            if not model_type:
                raise ValueError("lm.hf_config has no model_type; the checkpoint's config.json is damaged")
            hf = AutoConfig.for_model(model_type, **{k: v for k, v in config.hf_config.items() if k != "model_type"})
        else:
            hf = AutoConfig.from_pretrained(config.hf_path, local_files_only=True)
        hf._attn_implementation = "sdpa"
        model = AutoModelForCausalLM.from_config(hf)
    hf = model.config
    config.hidden, config.layers, config.heads = hf.hidden_size, hf.num_hidden_layers, hf.num_attention_heads
    config.intermediate = getattr(hf, "intermediate_size", config.intermediate)
    config.max_positions = getattr(hf, "max_position_embeddings", config.max_positions)
    config.hf_config = hf.to_dict()
    return model


def build_language_model(config: LMConfig, vocab_size: int, load_weights: bool = True) -> nn.Module:
    """The LM ``config.kind`` with its input and output embeddings sized to ``vocab_size`` tokens
    (``config.vocab_size`` is set to it)."""
    if vocab_size <= 0:
        raise ValueError(f"vocab_size must be positive, got {vocab_size}")
    config.vocab_size = vocab_size
    lm = LANGUAGE_MODELS.get(config.kind)(config, load_weights)
    if lm.get_input_embeddings().num_embeddings != vocab_size:
        # transformers >= 4.46 starts the new rows (added tokens) at the mean of the old ones.
        lm.resize_token_embeddings(vocab_size)
    config.hf_config = lm.config.to_dict() if config.kind == "hf" else None
    return lm

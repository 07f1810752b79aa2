"""create_model / build_tokenizer: the tokenizer a preset needs, and clear errors when it cannot be made."""

from __future__ import annotations

import pytest

from vistakit.model import build_tokenizer, create_model

from .conftest import TEXTS, tiny_config


def test_create_model_trains_the_tokenizer_for_scratch_presets():
    model, processor = create_model(tiny_config(), TEXTS, vocab_size=300)
    assert model.config.lm.vocab_size == len(processor.tokenizer)
    assert model.config.image_pad_id == processor.image_pad_id
    assert processor.config is model.config


def test_build_tokenizer_errors():
    with pytest.raises(ValueError, match="pass texts"):
        build_tokenizer(tiny_config())

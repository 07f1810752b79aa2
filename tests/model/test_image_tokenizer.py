"""Image tokenizers: Q tokens per image guided by the (unmasked) instruction; the projector keeps all patches."""

from __future__ import annotations

import torch

from vistakit.model import ImageTokenizerConfig
from vistakit.model.image_tokenizer import IMAGE_TOKENIZERS, build_image_tokenizer


def test_instruction_tokenizer_shapes_and_guidance():
    torch.manual_seed(0)
    tok = build_image_tokenizer(ImageTokenizerConfig("instruction", num_queries=5, depth=2, heads=2, dim=16), 24, 40)
    patches, instr = torch.randn(3, 9, 24), torch.randn(3, 4, 40)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]], dtype=torch.bool)
    out = tok(patches, instr, mask)
    assert out.shape == (3, 5, 40)
    # Masked instruction positions are ignored; attended ones change the tokens (the guidance).
    masked_change = instr.clone()
    masked_change[0, 2:] = 100.0
    assert torch.allclose(tok(patches, masked_change, mask)[0], out[0], atol=1e-5)
    real_change = instr.clone()
    real_change[0, 0] = 100.0
    assert not torch.allclose(tok(patches, real_change, mask)[0], out[0], atol=1e-3)


def test_projector_keeps_every_patch():
    tok = build_image_tokenizer(ImageTokenizerConfig("projector", dim=16, heads=2), 24, 40)
    assert tok(torch.randn(2, 9, 24), torch.randn(2, 3, 40), torch.ones(2, 3, dtype=torch.bool)).shape == (2, 9, 40)
    assert set(IMAGE_TOKENIZERS.names()) >= {"instruction", "projector"}

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
    out, relevance, box = tok(patches, instr, mask)[:3]
    assert out.shape == (3, 5, 40) and relevance is None and box is None
    # Masked instruction positions are ignored; attended ones change the tokens (the guidance).
    masked_change = instr.clone()
    masked_change[0, 2:] = 100.0
    assert torch.allclose(tok(patches, masked_change, mask).tokens[0], out[0], atol=1e-5)
    real_change = instr.clone()
    real_change[0, 0] = 100.0
    assert not torch.allclose(tok(patches, real_change, mask).tokens[0], out[0], atol=1e-3)


def test_projector_keeps_every_patch():
    tok = build_image_tokenizer(ImageTokenizerConfig("projector", dim=16, heads=2), 24, 40)
    out = tok(torch.randn(2, 9, 24), torch.randn(2, 3, 40), torch.ones(2, 3, dtype=torch.bool))
    assert out.tokens.shape == (2, 9, 40) and out.relevance is None
    assert set(IMAGE_TOKENIZERS.names()) >= {"instruction", "projector"}


def test_grounding_tokenizer_scores_patches_and_steers_the_queries():
    torch.manual_seed(0)
    config = ImageTokenizerConfig("instruction", num_queries=4, depth=2, heads=2, dim=16, grounding=True)
    tok = build_image_tokenizer(config, 24, 40)
    patches, instr = torch.randn(2, 9, 24), torch.randn(2, 3, 40)
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.bool)
    out = tok(patches, instr, mask)
    assert out.tokens.shape == (2, 4, 40) and out.relevance.shape == (2, 1, 9)
    # The relevance reads the instruction (padding ignored) ...
    padded = instr.clone()
    padded[0, 2] = 50.0
    assert torch.allclose(tok(patches, padded, mask).relevance[0], out.relevance[0], atol=1e-5)
    changed = instr.clone()
    changed[0, 0] = 50.0
    assert not torch.allclose(tok(patches, changed, mask).relevance[0], out.relevance[0], atol=1e-3)
    # ... and biases the cross-attention: with no gain the tokens differ from those with it.
    with torch.no_grad():
        tok.relevance_gain.zero_()
    assert not torch.allclose(tok(patches, instr, mask).tokens, out.tokens, atol=1e-4)

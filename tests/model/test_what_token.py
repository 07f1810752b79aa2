"""The what token: one token per image after the where tokens, the tower's features averaged under the relevance
map; it follows the map, trains, saves and generates; bad settings fail clearly."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vistakit.model import Engine, ImageTokenizerConfig, VistaProcessor, build_model, load_pretrained

from .conftest import image, tiny_config


def _config(**it):
    base = ImageTokenizerConfig(kind="instruction", num_queries=4, depth=1, heads=2, dim=32, grounding=True,
                                where_tokens=True, what_token=True)  # fmt: skip
    return tiny_config(image_tokenizer=dataclasses.replace(base, **it))


def test_settings_are_checked():
    with pytest.raises(ValueError, match="what_token pools the tower's features"):
        _config(where_tokens=False)
    with pytest.raises(ValueError, match="what_token must be true or false"):
        _config(what_token="yes")
    assert _config().tokens_per_image == 4 + 4 + 1
    assert _config(what_token=False).tokens_per_image == 4 + 4
    assert _config(kind="projector").tokens_per_image == 4  # the projector ignores it, as it ignores where tokens


def test_what_token_pools_features_under_the_map(tokenizer):
    torch.manual_seed(0)
    model = build_model(_config(), tokenizer)
    tok = model.image_tokenizer
    patches = torch.randn(2, 4, model.config.vision.dim)
    # a map sharply on patch 2 of image 0 and patch 0 of image 1: the token is the MLP of that patch's features
    relevance = torch.full((2, 4), -30.0)
    relevance[0, 2] = relevance[1, 0] = 30.0
    out = tok._what(patches, relevance)
    assert torch.allclose(out, tok.what(torch.stack([patches[0, 2], patches[1, 0]])), atol=1e-5)
    # a flat map: the mean of all patches
    assert torch.allclose(tok._what(patches, torch.zeros(2, 4)), tok.what(patches.mean(1)), atol=1e-5)


def test_model_appends_what_token_trains_saves_and_generates(tokenizer, tmp_path):
    torch.manual_seed(0)
    model = build_model(_config(), tokenizer)
    processor = VistaProcessor(tokenizer, model.config)
    batch = processor([[image(16, 16)], [image(20, 12, 1)]], ["<image>\nWhat colour is the small circle?"] * 2,
                      answers=["<p>small circle</p><box><loc_1><loc_2><loc_5><loc_6></box>", "red"])  # fmt: skip
    images = model.encode_images(batch["pixel_values"], batch["image_to_sample"], batch["instruction_ids"],
                                 batch["instruction_mask"])  # fmt: skip
    assert images.tokens.shape == (2, 4 + 4 + 1, 32)
    assert torch.allclose(images.tokens[:, -1], images.what[:, 0].to(images.tokens.dtype))  # [N_img, K=1, H]
    model(**batch).loss.backward()
    assert model.image_tokenizer.what[1].weight.grad.abs().sum() > 0
    model.save_pretrained(tmp_path / "ckpt", processor)
    loaded, loaded_processor = load_pretrained(tmp_path / "ckpt")
    assert loaded.config.image_tokenizer.what_token and loaded.config.tokens_per_image == 9
    assert torch.equal(loaded.image_tokenizer.what[1].weight, model.image_tokenizer.what[1].weight)
    results = Engine(loaded, loaded_processor).generate([[image(16, 16)]], ["<image>\nWhat is it?"], max_new_tokens=6)
    assert len(results[0].token_ids) > 0

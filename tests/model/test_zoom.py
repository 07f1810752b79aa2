"""Zoom tokens: the crop samples exactly the box's pixels, the model appends grid² tokens per image after the where
tokens, trains them, saves them, and generates with them; bad settings fail clearly."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vistakit.model import Engine, ImageTokenizerConfig, VistaProcessor, build_model, load_pretrained
from vistakit.model.zoom import MIN_SIZE, zoom_boxes, zoom_crops

from .conftest import image, tiny_config


def test_crops_sample_the_box_at_cell_centres():
    xs = torch.arange(16.0).repeat(16, 1)  # value = x pixel index
    pixels = torch.stack([xs, xs.T, torch.zeros(16, 16)])[None]  # channel 0: x, channel 1: y
    crop = zoom_crops(pixels, torch.tensor([[0.0, 0.5, 0.5, 1.0]]), 8)  # the bottom-left quadrant, 8 × 8 pixels
    assert torch.allclose(crop[0, 0, 0], torch.arange(8.0))  # x: pixels 0..7, at their centres
    assert torch.allclose(crop[0, 1, :, 0], torch.arange(8.0, 16.0))  # y: rows 8..15
    half = zoom_crops(pixels, torch.tensor([[0.0, 0.0, 0.25, 0.25]]), 8)  # 4 px sampled 8 times: between pixels
    assert torch.allclose(half[0, 0, 4, 1:8], torch.arange(1, 8) * 0.5 - 0.25)  # row 4: clear of the padded edge
    outside = zoom_crops(pixels, torch.tensor([[1.0, 1.0, 1.5, 1.5]]), 4)  # past the canvas: padding
    assert outside.abs().max() == 0


def test_boxes_grow_by_the_margin_and_keep_a_minimum_size():
    grown = zoom_boxes(torch.tensor([[0.2, 0.4, 0.4, 0.5], [0.5, 0.5, 0.5, 0.5]]), 0.25)
    assert torch.allclose(grown[0], torch.tensor([0.15, 0.375, 0.45, 0.525]))
    assert torch.allclose(grown[1], torch.tensor([0.5 - MIN_SIZE / 2] * 2 + [0.5 + MIN_SIZE / 2] * 2))


def _zoom_config(**it):
    base = ImageTokenizerConfig(kind="instruction", num_queries=4, depth=1, heads=2, dim=32, grounding=True,
                                where_tokens=True, zoom_grid=2)  # fmt: skip
    return tiny_config(image_tokenizer=dataclasses.replace(base, **it))


def test_settings_are_checked():
    with pytest.raises(ValueError, match="zoom_grid zooms into the relevance box"):
        _zoom_config(where_tokens=False)
    with pytest.raises(ValueError, match="zoom_grid must be an integer >= 0"):
        _zoom_config(zoom_grid=-1)
    with pytest.raises(ValueError, match="zoom_margin must be a number in"):
        _zoom_config(zoom_margin=5.0)


def test_model_appends_zoom_tokens_trains_saves_and_generates(tokenizer, tmp_path):
    torch.manual_seed(0)
    model = build_model(_zoom_config(), tokenizer)
    assert model.config.tokens_per_image == 4 + 4 + 2 * 2
    processor = VistaProcessor(tokenizer, model.config)
    batch = processor([[image(16, 16)], [image(20, 12, 1)]], ["<image>\nWhere is the small red circle?"] * 2,
                      answers=["<p>small red circle</p><box><loc_1><loc_2><loc_5><loc_6></box>", "yes"])  # fmt: skip
    images = model.encode_images(batch["pixel_values"], batch["image_to_sample"], batch["instruction_ids"],
                                 batch["instruction_mask"])  # fmt: skip
    assert images.tokens.shape == (2, 12, 32)
    # the zoom tokens are the last four, and they read the pixels: other pixels, other tokens
    other = model.encode_images(batch["pixel_values"].flip(-1), batch["image_to_sample"], batch["instruction_ids"],
                                batch["instruction_mask"])  # fmt: skip
    assert not torch.allclose(images.tokens[:, -4:], other.tokens[:, -4:])
    model(**batch).loss.backward()
    assert model.zoom.proj.weight.grad.abs().sum() > 0 and model.zoom.net[0].weight.grad.abs().sum() > 0
    model.save_pretrained(tmp_path / "ckpt", processor)
    loaded, loaded_processor = load_pretrained(tmp_path / "ckpt")
    assert loaded.config.image_tokenizer.zoom_grid == 2
    assert torch.equal(loaded.zoom.cells, model.zoom.cells)
    results = Engine(loaded, loaded_processor).generate([[image(16, 16)]], ["<image>\nWhere is it?"], max_new_tokens=6)
    assert len(results[0].token_ids) > 0

"""Grounding targets (what the instruction names, per patch, in the model frame) and the grounding loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vistakit.data.record import Record, Targets
from vistakit.geometry import ImageTransform, Mask
from vistakit.model import ImageTokenizerConfig, VistaProcessor, build_model
from vistakit.model.grounding import NO_TARGET, grounding_loss, grounding_targets, region_map

from .conftest import tiny_config


def record(task: str, sizes: list[tuple[int, int]], **targets) -> Record:
    images = [f"{k}.png" for k in range(len(sizes))]
    prompt = " ".join("<image>" for _ in sizes) + " find it"
    return Record("r", task, images, sizes, prompt, targets=Targets(**targets))


def test_box_targets_are_patch_coverage_on_the_canvas():
    # A 32×16 image fits a 16 px canvas at scale 0.5 (padded below): the box 0..16 × 0..8 px becomes the
    # canvas' 0..8 × 0..4 px, i.e. half of the top-left 8 px patch.
    rec = record("rec", [(32, 16)], boxes=[[0.0, 0.0, 16.0, 8.0]])
    t = ImageTransform.fit((32, 16), 16)
    out = grounding_targets([rec], [[t]], grid=2)
    assert out.shape == (1, 4)
    assert out[0].tolist() == pytest.approx([0.5, 0.0, 0.0, 0.0])


def test_masks_win_over_boxes_and_images_get_their_own_instances():
    m = np.zeros((16, 16), bool)
    m[8:, 8:] = True  # bottom-right quarter of image 1
    rle = Mask(m).to_rle()
    rec = record("attcoseg", [(16, 16), (16, 16)], boxes=[[0.0, 0.0, 16.0, 16.0]], masks=[rle], image_ids=[1])
    t = ImageTransform.fit((16, 16), 16)
    out = grounding_targets([rec], [[t, t]], grid=2)
    assert out[0].tolist() == [0.0] * 4  # image 0 shows none of it
    assert out[1].tolist() == [0.0, 0.0, 0.0, 1.0]  # the mask, not the whole-image box
    assert region_map(rec, 1, t).sum() == 64


def test_tasks_that_do_not_ground_give_no_target_rows_and_empty_answers_zeros():
    t = ImageTransform.fit((16, 16), 16)
    caption = record("caption", [(16, 16)], answers=["a red circle"])
    none = record("gres", [(16, 16)], boxes=[], masks=[], labels=[])
    out = grounding_targets([caption, none], [[t], [t]], grid=2)
    assert out[0].tolist() == [NO_TARGET] * 4
    assert out[1].tolist() == [0.0] * 4


def test_loss_skips_rows_without_targets():
    relevance = torch.tensor([[5.0, -5.0], [0.0, 0.0]])
    targets = torch.tensor([[1.0, 0.0], [NO_TARGET, NO_TARGET]])
    loss = grounding_loss(relevance, targets)
    assert loss.item() == pytest.approx(float(torch.nn.functional.softplus(torch.tensor(-5.0))), rel=1e-4)
    assert grounding_loss(relevance, torch.full((2, 2), NO_TARGET)) is None
    with pytest.raises(ValueError, match="grounding targets must be"):
        grounding_loss(relevance, targets[:, :1])


def test_grounding_model_adds_the_loss_and_the_processor_the_targets(tokenizer, tmp_path):
    config = tiny_config(
        image_tokenizer=ImageTokenizerConfig(kind="instruction", num_queries=4, depth=1, heads=2, dim=32, grounding=True)
    )
    torch.manual_seed(0)
    model = build_model(config, tokenizer)
    processor = VistaProcessor(tokenizer, model.config)
    from PIL import Image

    Image.new("RGB", (16, 16), (200, 30, 30)).save(tmp_path / "0.png")
    rec = Record("r", "rec", ["0.png"], [(16, 16)], "<image>\nWhere is the small red circle?",
                 targets=Targets(boxes=[[0.0, 0.0, 8.0, 8.0]], labels=["small red circle"]), root=tmp_path)  # fmt: skip
    batch = processor.from_records([rec])
    assert batch["grounding"].tolist() == [[1.0, 0.0, 0.0, 0.0]]
    out = model(**batch)
    assert out.grounding_loss is not None and out.grounding_loss > 0
    plain = model(**{k: v for k, v in batch.items() if k != "grounding"})
    expected = plain.loss + config.image_tokenizer.grounding_weight * out.grounding_loss
    assert out.loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert "grounding" not in processor.from_records([rec], with_answers=False)


def test_grounding_weight_is_checked_and_the_projector_has_no_relevance(tokenizer):
    config = tiny_config(image_tokenizer=ImageTokenizerConfig(kind="projector", dim=32, heads=2, grounding=True))
    model = build_model(config, tokenizer)
    assert not any("relevance" in name for name, _ in model.named_parameters())
    with pytest.raises(ValueError, match="grounding_weight"):
        ImageTokenizerConfig(grounding=True, grounding_weight=-1).validate()

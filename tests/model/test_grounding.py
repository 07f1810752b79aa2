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
    out = grounding_targets([rec], [[t]], grid=2)[:, 0]  # one map
    assert out.shape == (1, 4)
    assert out[0].tolist() == pytest.approx([0.5, 0.0, 0.0, 0.0])


def test_masks_win_over_boxes_and_images_get_their_own_instances():
    m = np.zeros((16, 16), bool)
    m[8:, 8:] = True  # bottom-right quarter of image 1
    rle = Mask(m).to_rle()
    rec = record("attcoseg", [(16, 16), (16, 16)], boxes=[[0.0, 0.0, 16.0, 16.0]], masks=[rle], image_ids=[1])
    t = ImageTransform.fit((16, 16), 16)
    out = grounding_targets([rec], [[t, t]], grid=2)[:, 0]  # one map
    assert out[0].tolist() == [0.0] * 4  # image 0 shows none of it
    assert out[1].tolist() == [0.0, 0.0, 0.0, 1.0]  # the mask, not the whole-image box
    assert region_map(rec, 1, t).sum() == 64


def test_tasks_that_do_not_ground_give_no_target_rows_and_empty_answers_zeros():
    t = ImageTransform.fit((16, 16), 16)
    caption = record("caption", [(16, 16)], answers=["a red circle"])
    none = record("gres", [(16, 16)], boxes=[], masks=[], labels=[])
    out = grounding_targets([caption, none], [[t], [t]], grid=2)[:, 0]  # one map
    assert out[0].tolist() == [NO_TARGET] * 4
    assert out[1].tolist() == [0.0] * 4


def test_vqa_grounds_only_records_that_list_their_referents():
    t = ImageTransform.fit((16, 16), 16)
    plain = record("vqa", [(16, 16)], answers=["yes"])
    cited = record("vqa", [(16, 16)], answers=["yes"], boxes=[[0.0, 0.0, 8.0, 8.0], [8.0, 8.0, 16.0, 16.0]],
                   labels=["red circle", "star"])  # fmt: skip
    out = grounding_targets([plain, cited], [[t], [t]], grid=2)[:, 0]  # one map
    assert out[0].tolist() == [NO_TARGET] * 4
    assert out[1].tolist() == [1.0, 0.0, 0.0, 1.0]  # both objects the question names


def test_reg_grounds_on_the_region_it_describes():
    t = ImageTransform.fit((16, 16), 16)
    described = record("reg", [(16, 16)], answers=["the star"], boxes=[[8.0, 8.0, 16.0, 16.0]], labels=["the star"])
    bare = record("reg", [(16, 16)], answers=["the star"])
    out = grounding_targets([described, bare], [[t], [t]], grid=2)[:, 0]  # one map
    assert out[0].tolist() == [0.0, 0.0, 0.0, 1.0]
    assert out[1].tolist() == [NO_TARGET] * 4


def test_cited_nlvr_grounds_each_image_on_its_own_referents():
    t = ImageTransform.fit((16, 16), 16)
    plain = record("nlvr", [(16, 16), (16, 16)], answers=["true"])
    cited = record("nlvr", [(16, 16), (16, 16)], answers=["false"], boxes=[[8.0, 0.0, 16.0, 8.0]],
                   labels=["star"], image_ids=[1])  # fmt: skip
    out = grounding_targets([plain, cited], [[t, t], [t, t]], grid=2)[:, 0]  # one map
    assert out[:2].tolist() == [[NO_TARGET] * 4] * 2
    assert out[2].tolist() == [0.0] * 4 and out[3].tolist() == [0.0, 1.0, 0.0, 0.0]


def test_loss_skips_rows_without_targets():
    relevance = torch.tensor([[5.0, -5.0], [0.0, 0.0]])[:, None]  # [N_img, K=1, P]
    targets = torch.tensor([[1.0, 0.0], [NO_TARGET, NO_TARGET]])[:, None]
    loss = grounding_loss(relevance, targets)
    assert loss.item() == pytest.approx(float(torch.nn.functional.softplus(torch.tensor(-5.0))), rel=1e-4)
    assert grounding_loss(relevance, torch.full((2, 1, 2), NO_TARGET)) is None
    with pytest.raises(ValueError, match="grounding targets must be"):
        grounding_loss(relevance, targets[:, :, :1])


def test_grounding_model_adds_the_loss_and_the_processor_the_targets(tokenizer, tmp_path):
    config = tiny_config(
        image_tokenizer=ImageTokenizerConfig(
            kind="instruction", num_queries=4, depth=1, heads=2, dim=32, grounding=True
        )
    )
    torch.manual_seed(0)
    model = build_model(config, tokenizer)
    processor = VistaProcessor(tokenizer, model.config)
    from PIL import Image

    Image.new("RGB", (16, 16), (200, 30, 30)).save(tmp_path / "0.png")
    rec = Record("r", "rec", ["0.png"], [(16, 16)], "<image>\nWhere is the small red circle?",
                 targets=Targets(boxes=[[0.0, 0.0, 8.0, 8.0]], labels=["small red circle"]), root=tmp_path)  # fmt: skip
    batch = processor.from_records([rec])
    assert batch["grounding"].tolist() == [[[1.0, 0.0, 0.0, 0.0]]]  # [N_img, K=1, P]
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


def test_soft_box_reads_a_rectangle_off_a_sharp_map():
    from vistakit.model.grounding import SoftBox

    grid = 8
    logits = torch.full((1, grid, grid), -10.0)
    logits[0, 2:5, 1:7] = 10.0  # rows 2..4, columns 1..6 of an 8 × 8 grid
    box = SoftBox()(logits.reshape(1, -1))
    # columns 1..6 → x from 1/8 to 7/8; rows 2..4 → y from 2/8 to 5/8 (exact for a uniform run of patches)
    assert box[0].tolist() == pytest.approx([1 / 8, 2 / 8, 7 / 8, 5 / 8], abs=1e-3)
    with pytest.raises(ValueError, match="square grid"):
        SoftBox()(torch.zeros(1, 10))


def test_location_embeddings_hit_the_bin_rows_and_interpolate_between_them():
    from vistakit.model.grounding import location_embeddings

    rows = torch.arange(8 * 3, dtype=torch.float32).reshape(8, 3)  # 8 bins, width 3
    centres = (torch.tensor([[0, 3, 7]]) + 0.5) / 8
    assert torch.equal(location_embeddings(centres, rows)[0], rows[[0, 3, 7]])
    half = torch.tensor([[4.0 / 8]])  # halfway between the centres of bins 3 and 4
    assert torch.allclose(location_embeddings(half, rows)[0, 0], (rows[3] + rows[4]) / 2)
    ends = location_embeddings(torch.tensor([[0.0, 1.0]]), rows)[0]  # clamped to the first / last bin
    assert torch.equal(ends, rows[[0, 7]])
    value = torch.tensor([[0.3]], requires_grad=True)
    location_embeddings(value, rows).sum().backward()
    assert value.grad is not None and value.grad.abs().item() > 0


def test_where_tokens_append_the_box_as_location_embeddings(tokenizer, tmp_path):
    from vistakit.model import VistaModel

    config = tiny_config(image_tokenizer=ImageTokenizerConfig(kind="instruction", num_queries=4, depth=1, heads=2,
                                                              dim=32, grounding=True, where_tokens=True))  # fmt: skip
    assert config.tokens_per_image == 4 + 4
    torch.manual_seed(0)
    model = build_model(config, tokenizer)
    ids = tokenizer.convert_tokens_to_ids([f"<loc_{k}>" for k in range(config.bins)])
    assert model.loc_token_ids.tolist() == ids
    processor = VistaProcessor(tokenizer, model.config)
    from PIL import Image

    Image.new("RGB", (16, 16), (200, 30, 30)).save(tmp_path / "0.png")
    rec = Record("r", "rec", ["0.png"], [(16, 16)], "<image>\nWhere is the small red circle?",
                 targets=Targets(boxes=[[0.0, 0.0, 8.0, 8.0]], labels=["small red circle"]), root=tmp_path)  # fmt: skip
    batch = processor.from_records([rec])
    assert int((batch["input_ids"] == model.config.image_pad_id).sum()) == 8
    with torch.no_grad():
        out = model.encode_images(batch["pixel_values"], batch["image_to_sample"], batch["instruction_ids"],
                                  batch["instruction_mask"])  # fmt: skip
    assert out.tokens.shape == (1, 8, 32) and out.box.shape == (1, 1, 4)
    from vistakit.model.grounding import location_embeddings

    rows = model.lm.get_input_embeddings().weight[ids]
    assert torch.allclose(out.tokens[0, 4:], location_embeddings(out.box[:, 0], rows)[0], atol=1e-6)
    loss = model(**batch).loss
    loss.backward()  # the answer loss reaches the relevance head through the box
    assert model.image_tokenizer.soft_box.sharpness.grad is not None
    model.save_pretrained(tmp_path / "ckpt", processor)
    again = VistaModel.from_pretrained(tmp_path / "ckpt")
    assert again.loc_token_ids.tolist() == ids
    with pytest.raises(ValueError, match="grounding=true"):
        ImageTokenizerConfig(where_tokens=True).validate()

"""Region–text alignment: targets from labelled instances, the InfoNCE head, and the model's leak-free use of it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from vistakit.data.record import Record, Targets
from vistakit.geometry import ImageTransform, Mask
from vistakit.model import VisionConfig, VistaProcessor, build_model, load_pretrained
from vistakit.model.region_text import REGION_KEYS, RegionTextHead, phrase_key, region_text_targets

from .conftest import tiny_config


def record(task: str, n_images: int, root=None, prompt: str | None = None, **targets) -> Record:
    images = [f"{k}.png" for k in range(n_images)]
    prompt = prompt or " ".join("<image>" for _ in images) + "\nWhere is the small red circle?"
    return Record("r", task, images, [(16, 16)] * n_images, prompt, targets=Targets(**targets), root=root)


def ids(text: str) -> list[int]:
    return [len(w) for w in text.split()]  # a stand-in tokenizer: word lengths


def test_phrase_key_ignores_case_spacing_and_a_leading_article():
    assert phrase_key("The  Red square") == phrase_key("red square") == phrase_key("a red square") == "red square"
    assert phrase_key("theatre") == "theatre"


def test_targets_pool_each_labelled_instance_on_its_own_image():
    t = ImageTransform.fit((16, 16), 16)
    m = np.zeros((16, 16), bool)
    m[8:, 8:] = True  # bottom-right patch of image 1
    two = record("attcoseg", 2, boxes=[[0.0, 0.0, 8.0, 8.0], [8.0, 8.0, 16.0, 16.0]],
                 masks=[Mask(np.pad(np.ones((8, 8), bool), ((0, 8), (0, 8)))).to_rle(), Mask(m).to_rle()],
                 image_ids=[0, 1], labels=["the red square", "Red square"])  # fmt: skip
    one = record("rec", 1, boxes=[[0.0, 0.0, 16.0, 8.0]], labels=["blue circle"])  # top half: two patches
    caption = record("caption", 1, answers=["a red square"])  # no regions: contributes nothing
    out = region_text_targets([two, caption, one], [[t, t], [t], [t]], grid=2, tokenize=ids, pad_id=0)
    assert set(out) == set(REGION_KEYS)
    assert out["region_image"].tolist() == [0, 1, 3]  # images numbered across the batch
    assert out["region_weights"].tolist() == [[1.0, 0, 0, 0], [0, 0, 0, 1.0], [0.5, 0.5, 0, 0]]
    assert out["region_group"].tolist() == [0, 0, 1]  # "the red square" and "Red square" are one phrase
    assert out["region_text_ids"].tolist() == [[3, 3, 6], [3, 6, 0], [4, 6, 0]]
    assert out["region_text_mask"].tolist() == [[1, 1, 1], [1, 1, 0], [1, 1, 0]]


def test_targets_skip_unlabelled_or_empty_instances_and_need_two_regions():
    t = ImageTransform.fit((16, 16), 16)
    unlabelled = record("rec", 1, boxes=[[0.0, 0.0, 8.0, 8.0]])
    empty = record("rec", 1, boxes=[[4.0, 4.0, 4.0, 4.0]], labels=["a dot"])  # covers no pixel
    single = record("rec", 1, boxes=[[0.0, 0.0, 8.0, 8.0]], labels=["red"])
    assert region_text_targets([unlabelled, empty, single], [[t]] * 3, 2, ids, 0) is None


def test_head_learns_to_match_regions_to_their_phrases():
    torch.manual_seed(0)
    head = RegionTextHead(vision_dim=8, lm_hidden=6, dim=8)
    features = torch.randn(4, 4, 8)  # 4 images of 4 patches
    weights = torch.eye(4)  # region k = patch k
    image = torch.tensor([0, 1, 2, 3])
    text = torch.randn(4, 2, 6)
    mask = torch.ones(4, 2, dtype=torch.long)
    group = torch.arange(4)
    opt = torch.optim.Adam(head.parameters(), 1e-2)
    first = None
    for _ in range(100):
        loss = head(features, weights, image, text, mask, group)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first > 1.0 and loss.item() < 0.1
    with pytest.raises(ValueError, match="cover 4 patches"):
        head(features[:, :2], weights, image, text, mask, group)
    with pytest.raises(ValueError, match="number of regions"):
        head(features, weights, image[:3], text, mask, group)


@pytest.fixture
def region_model(tokenizer):
    config = tiny_config(vision=VisionConfig(kind="vit", image_size=16, patch_size=8, dim=32, depth=1, heads=2,
                                             mlp_ratio=2.0, instruction_film=True, region_text_weight=0.5))  # fmt: skip
    torch.manual_seed(0)
    model = build_model(config, tokenizer)
    for p in model.vision.film.parameters():  # as after training: the condition changes the features
        torch.nn.init.normal_(p, std=0.5)
    return model


def test_model_adds_the_loss_from_features_the_instruction_cannot_reach(region_model, tokenizer, tmp_path):
    processor = VistaProcessor(tokenizer, region_model.config)
    Image.new("RGB", (16, 16), (200, 30, 30)).save(tmp_path / "0.png")
    Image.new("RGB", (16, 16), (30, 30, 200)).save(tmp_path / "1.png")
    recs = [record("rec", 1, tmp_path, boxes=[[0.0, 0.0, 8.0, 8.0]], labels=["small red circle"]),
            record("rec", 1, tmp_path, boxes=[[8.0, 8.0, 16.0, 16.0]], labels=["blue square"])]  # fmt: skip
    recs[1] = dataclasses.replace(recs[1], images=["1.png"])
    batch = processor.from_records(recs)
    assert batch["region_image"].tolist() == [0, 1]
    out = region_model(**batch)
    assert out.region_text_loss is not None and out.region_text_loss > 0
    plain = region_model(**{k: v for k, v in batch.items() if k not in REGION_KEYS})
    assert plain.region_text_loss is None
    assert out.loss.item() == pytest.approx((plain.loss + 0.5 * out.region_text_loss).item(), rel=1e-5)
    # another instruction changes the answer loss but not the tower features the alignment reads
    other = processor.from_records([dataclasses.replace(r, prompt=r.prompt.replace("small red circle", "star"))
                                    for r in recs])  # fmt: skip
    moved = region_model(**other)
    assert moved.loss.item() != pytest.approx(out.loss.item())
    assert moved.region_text_loss.item() == pytest.approx(out.region_text_loss.item(), rel=1e-6)
    out.region_text_loss.backward()
    assert region_model.vision.blocks[0].mlp[0].weight.grad.abs().sum() > 0
    assert not any(k in processor.from_records(recs, with_answers=False) for k in REGION_KEYS)
    with pytest.raises(ValueError, match="region_image values"):
        region_model(**{**batch, "region_image": torch.tensor([0, 5])})


def test_head_is_saved_and_off_by_default(region_model, tokenizer, model, tmp_path):
    assert model.region_text is None
    assert not any("region_text" in n for n, _ in model.named_parameters())
    region_model.save_pretrained(tmp_path / "ckpt", VistaProcessor(tokenizer, region_model.config))
    loaded, _ = load_pretrained(tmp_path / "ckpt")
    assert torch.equal(loaded.region_text.text[1].weight, region_model.region_text.text[1].weight)
    with pytest.raises(ValueError, match="region_text_weight"):
        VisionConfig(region_text_weight=-1.0).validate()

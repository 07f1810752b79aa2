"""The seeds' stage recipes (``recipes/*.json``): each loads as training settings, and on a model it trains,
freezes and adapts what its paper's stage does."""

from pathlib import Path

import pytest
import torch

from vistakit.model import create_model, make_config
from vistakit.train.config import TrainConfig
from vistakit.train.distributed import SINGLE
from vistakit.train.lora import apply_lora
from vistakit.train.optim import apply_stage

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
TEXTS = ["<image>\nWhere is the red circle?", "<box><loc_1><loc_2><loc_3><loc_4></box>"] * 4

# recipe → (parts that train fully, parts frozen, parts with LoRA adapters)
EXPECTED = {
    "vistallm_stage1": ({"image_tokenizer", "lm"}, {"vision"}, set()),  # tokenizer + LM
    "vistallm_stage2": ({"image_tokenizer"}, {"vision", "lm"}, set()),  # the tokenizer alone
    "visionllm_v2_stage1": ({"image_tokenizer"}, {"vision", "lm"}, set()),  # pretraining, the LM frozen
    "visionllm_v2_stage2": ({"image_tokenizer", "lm", "vision"}, set(), set()),  # everything
    "visionllm_v2_stage3": ({"mask_decoder"}, {"vision", "image_tokenizer"}, {"lm"}),  # decoders + LoRA r=32 on the LM
}


def test_every_recipe_is_listed():
    assert {p.stem for p in RECIPES.glob("*.json")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recipe_trains_freezes_and_adapts_what_its_stage_says(name):
    cfg = TrainConfig.load(RECIPES / f"{name}.json")
    trains, frozen, adapted = EXPECTED[name]
    torch.manual_seed(0)
    model, _ = create_model(make_config("micro", ["mask_decoder.enabled=true"]), TEXTS, 300)
    apply_stage(model, cfg.stage)
    if cfg.lora_r:
        assert cfg.lora_r == 32
        apply_lora(model, cfg.with_overrides(["lora_targets=q_proj,v_proj"]), SINGLE)
    for part in trains:
        assert all(p.requires_grad for p in getattr(model, part).parameters()), part
    for part in frozen:
        assert not any(p.requires_grad for p in getattr(model, part).parameters()), part
    for part in adapted:
        named = list(getattr(model, part).named_parameters())
        assert any(p.requires_grad for n, p in named) and all(("lora_" in n) == p.requires_grad for n, p in named)

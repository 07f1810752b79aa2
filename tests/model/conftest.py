"""Tiny model fixtures: hidden 32, 2 LM layers, 16 px canvas, 8 bins — every test file runs in seconds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vistakit.model import ImageTokenizerConfig, LMConfig, ModelConfig, VisionConfig, VistaProcessor, build_model
from vistakit.model.text_tokenizer import train_tokenizer

TEXTS = [
    "<image>\nWhere is the small red circle?",
    "<p>small red circle</p><box><loc_1><loc_2><loc_5><loc_6></box>",
    "<image>\nSegment the blue square.",
    "<p>blue square</p><mask><poly><loc_1><loc_1><loc_6><loc_1><loc_6><loc_6></poly></mask>",
    "Image 1: <image>\nImage 2: <image>\nIs this statement true? Both images contain a circle.",
    "true", "false", "yes", "no", "A red circle left of a blue square.",
    "<image>\nLocate the joints of all figures.",
    "<kps><kp>head<loc_3><loc_1></kp><kp>left_hand<occ><loc_2><loc_4></kp><kp>foot</kp></kps>",
    "<image>\nWrite an expression that refers to the object at <region>.", "the purple hexagon",
] * 4  # fmt: skip


def tiny_config(**changes) -> ModelConfig:
    config = ModelConfig(
        vision=VisionConfig(kind="vit", image_size=16, patch_size=8, dim=32, depth=1, heads=2, mlp_ratio=2.0),
        image_tokenizer=ImageTokenizerConfig(kind="instruction", num_queries=4, depth=1, heads=2, dim=32),
        lm=LMConfig(kind="llama", hidden=32, layers=2, heads=2, intermediate=64, max_positions=256),
        bins=8,
        mask_points=8,
        canvas=16,
        max_images=3,
        preset="test-tiny",
    )
    for k, v in changes.items():
        setattr(config, k, v)
    return config.validate()


@pytest.fixture(scope="session")
def tokenizer():
    return train_tokenizer(TEXTS, bins=8, vocab_size=300, min_frequency=1)


@pytest.fixture
def config() -> ModelConfig:
    return tiny_config()


@pytest.fixture
def model(tokenizer, config):
    torch.manual_seed(0)
    return build_model(config, tokenizer).eval()


@pytest.fixture
def processor(tokenizer, model) -> VistaProcessor:
    return VistaProcessor(tokenizer, model.config)


def image(w: int, h: int, seed: int = 0) -> np.ndarray:
    """A random H×W×3 uint8 image."""
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)

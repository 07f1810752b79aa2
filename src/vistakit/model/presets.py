"""Named model presets (litgpt ``Config.from_name`` style): a registry of functions returning a ModelConfig.

``tiny`` trains from scratch on a CPU in minutes (ShapesWorld). The real-size presets mirror the papers and
build from *local* Hugging Face directories given as arguments (or later as overrides ``vision.hf_path=…``,
``lm.hf_path=…``); nothing is downloaded. Sizes of HF parts are read from their own configs at build time.

    config = make_config("tiny", ["lm.layers=2"])
    config = make_config("vistallm-7b", vision_path="/models/clip-vit-large-patch14-336", lm_path="/models/vicuna-7b")
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..registry import Registry
from .config import (
    CLIP_MEAN,
    CLIP_STD,
    SIGLIP_MEAN,
    SIGLIP_STD,
    ImageTokenizerConfig,
    LMConfig,
    MaskDecoderConfig,
    ModelConfig,
    VisionConfig,
    apply_overrides,
)

PRESETS: Registry[Callable[..., ModelConfig]] = Registry("model preset")


@PRESETS.register("tiny")
def tiny() -> ModelConfig:
    """From scratch: 64 px canvas, ViT 8 px patches dim 128 × 4 layers, 16 instruction-guided queries with a
    grounding relevance map and its box as 4 location tokens, Llama hidden 256 × 4 layers, 64 location bins,
    masks as 16 points."""
    return ModelConfig(
        vision=VisionConfig(kind="vit", image_size=64, patch_size=8, dim=128, depth=4, heads=4, mlp_ratio=4.0),
        image_tokenizer=ImageTokenizerConfig(kind="instruction", num_queries=16, depth=2, heads=4, dim=128,
                                             grounding=True, where_tokens=True),
        lm=LMConfig(kind="llama", hidden=256, layers=4, heads=4, intermediate=704, max_positions=512),
        bins=64,
        mask_points=16,
        canvas=64,
        max_images=4,
        preset="tiny",
    )


@PRESETS.register("micro")
def micro() -> ModelConfig:
    """A test-size model (16 px canvas, width 32, 4 queries, 2 LM layers): builds in a second and runs the whole
    pipeline in milliseconds per step (the tests use it; it learns nothing useful)."""
    config = apply_overrides(tiny(), [
        "vision.image_size=16", "canvas=16", "vision.patch_size=8", "vision.dim=32", "vision.depth=1",
        "vision.heads=2", "image_tokenizer.dim=32", "image_tokenizer.heads=2", "image_tokenizer.num_queries=4",
        "image_tokenizer.depth=1", "lm.hidden=32", "lm.layers=2", "lm.heads=2", "lm.intermediate=64",
        "lm.max_positions=256",
    ])  # fmt: skip
    config.preset = "micro"
    return config


@PRESETS.register("tiny-projector")
def tiny_projector() -> ModelConfig:
    """``tiny`` with the ablation image tokenizer: an MLP over all 64 patches instead of 16 queries."""
    config = tiny()
    config.image_tokenizer.kind = "projector"
    config.preset = "tiny-projector"
    return config


def _grounding_tokenizer(dim: int) -> ImageTokenizerConfig:
    """The real presets' image tokenizer: 32 instruction-guided queries plus the general grounding parts the tiny
    model needed to localize anything (the projector ablation without them: REC 0.12) — the relevance map, its box
    as 4 where tokens and the what token under it. Nothing in them names ShapesWorld's words (the attribute heads,
    which need a word list, stay off)."""
    return ImageTokenizerConfig(kind="instruction", num_queries=32, depth=6, heads=16, dim=dim, grounding=True,
                                where_tokens=True, what_token=True)


@PRESETS.register("vistallm-7b")
def vistallm_7b(vision_path: str | None = None, lm_path: str | None = None) -> ModelConfig:
    """VistaLLM-7B: CLIP ViT-L/14 at 336 px + a Vicuna / Llama-7B LM, 32 instruction-guided queries per image with
    the grounding parts (relevance map, where and what tokens) and the super-link mask decoder."""
    return ModelConfig(
        vision=VisionConfig(kind="hf_clip", image_size=336, patch_size=14, dim=1024, depth=24, heads=16,
                            hf_path=vision_path, image_mean=CLIP_MEAN, image_std=CLIP_STD),
        image_tokenizer=_grounding_tokenizer(dim=1024),
        lm=LMConfig(kind="hf", hidden=4096, layers=32, heads=32, intermediate=11008, max_positions=4096,
                    hf_path=lm_path),
        mask_decoder=MaskDecoderConfig(enabled=True, dim=64),
        bins=1000,
        mask_points=32,
        canvas=336,
        max_images=8,
        preset="vistallm-7b",
    )  # fmt: skip


@PRESETS.register("vistallm-siglip")
def vistallm_siglip(vision_path: str | None = None, lm_path: str | None = None) -> ModelConfig:
    """SigLIP so400m/14 at 384 px (27² patches) + a Llama-family LM, 32 instruction-guided queries per image with
    the grounding parts and the mask decoder, as ``vistallm-7b``."""
    return ModelConfig(
        vision=VisionConfig(kind="hf_siglip", image_size=384, patch_size=14, dim=1152, depth=27, heads=16,
                            hf_path=vision_path, feature_layer=-1, image_mean=SIGLIP_MEAN, image_std=SIGLIP_STD),
        image_tokenizer=_grounding_tokenizer(dim=1152),
        lm=LMConfig(kind="hf", hidden=4096, layers=32, heads=32, intermediate=11008, max_positions=4096,
                    hf_path=lm_path),
        mask_decoder=MaskDecoderConfig(enabled=True, dim=64),
        bins=1000,
        mask_points=32,
        canvas=384,
        max_images=8,
        preset="vistallm-siglip",
    )  # fmt: skip


def preset_names() -> list[str]:
    return PRESETS.names()


def make_config(name: str, overrides: Iterable[str] = (), **paths: str | None) -> ModelConfig:
    """The preset ``name`` (an unknown name raises ``KeyError`` listing the presets) built with ``paths``
    (``vision_path=``, ``lm_path=`` for the HF presets), then ``"a.b=value"`` overrides, validated."""
    factory = PRESETS.get(name)
    paths = {k: v for k, v in paths.items() if v is not None}
    try:
        config = factory(**paths)
    except TypeError:
        raise ValueError(f"preset {name!r} takes no arguments {sorted(paths)}; only the HF presets take "
                         f"vision_path= / lm_path=") from None  # fmt: skip
    return apply_overrides(config, overrides)

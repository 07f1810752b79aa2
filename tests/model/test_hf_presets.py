"""The real-size presets' code path (HF CLIP / SigLIP towers + an HF causal LM from local directories), run
on tiny random HF models written to a temporary folder; checkpoints then rebuild without those folders."""

from __future__ import annotations

import shutil

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    CLIPVisionConfig,
    CLIPVisionModel,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
    SiglipVisionConfig,
    SiglipVisionModel,
)

from vistakit.model import Engine, create_model, load_pretrained, make_config
from vistakit.model.vision import build_vision

from .conftest import TEXTS, image

SMALL = [
    "image_tokenizer.dim=32",
    "image_tokenizer.depth=1",
    "image_tokenizer.heads=2",
    "image_tokenizer.num_queries=4",
]
TOWER = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
         "image_size": 16, "patch_size": 8}  # fmt: skip


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory):
    """A Llama directory with its own plain BPE tokenizer (no pad token, no grammar tokens)."""
    path = tmp_path_factory.mktemp("llama")
    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer, raw.decoder = pre_tokenizers.ByteLevel(add_prefix_space=False), decoders.ByteLevel()
    raw.train_from_iterator(TEXTS, trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))  # fmt: skip
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    tok.save_pretrained(path)
    torch.manual_seed(0)
    lm = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=2, max_position_embeddings=256))  # fmt: skip
    lm.save_pretrained(path)
    return path


@pytest.mark.parametrize(
    "preset, config_cls, model_cls",
    [("vistallm-7b", CLIPVisionConfig, CLIPVisionModel), ("vistallm-siglip", SiglipVisionConfig, SiglipVisionModel)],
)
def test_hf_preset_builds_runs_and_round_trips(preset, config_cls, model_cls, lm_dir, tmp_path):
    vision_dir, lm_copy = tmp_path / "vision", tmp_path / "lm"
    torch.manual_seed(0)
    tower = model_cls(config_cls(**TOWER))
    tower.save_pretrained(vision_dir)
    shutil.copytree(lm_dir, lm_copy)
    config = make_config(preset, SMALL, vision_path=str(vision_dir), lm_path=str(lm_copy))
    model, processor = create_model(config)
    model.eval()
    # Sizes come from the HF directories; the tower's weights were loaded, not re-initialised.
    assert (model.config.canvas, model.config.vision.dim, model.config.lm.hidden) == (16, 32, 32)
    assert torch.equal(next(model.vision.model.parameters()), next(tower.parameters()))
    assert model.config.lm.vocab_size == len(processor.tokenizer) > 300  # resized for the added tokens
    assert processor.tokenizer.pad_token is not None
    batch = processor([[image(20, 12)]], ["<image>\nWhere is the circle?"], ["<box><loc_1><loc_2><loc_3><loc_4></box>"])
    with torch.no_grad():
        out = model(**batch)
    assert torch.isfinite(out.loss)

    ckpt = model.save_pretrained(tmp_path / "ckpt", processor)
    shutil.rmtree(vision_dir), shutil.rmtree(lm_copy)  # the checkpoint must not need them
    loaded, proc2 = load_pretrained(ckpt)
    with torch.no_grad():
        assert torch.equal(loaded(**proc2([[image(20, 12)]], ["<image>\nWhere is the circle?"],
                                          ["<box><loc_1><loc_2><loc_3><loc_4></box>"])).logits, out.logits)  # fmt: skip
    res = Engine(loaded, proc2).generate([[image(20, 12)]], ["<image>\nWhere?"], max_new_tokens=4)
    assert len(res) == 1 and len(res[0].token_ids) <= 4


def test_hf_preset_without_directories_says_what_is_missing():
    with pytest.raises(ValueError, match="lm.hf_path"):
        create_model(make_config("vistallm-7b", SMALL))
    with pytest.raises(FileNotFoundError, match="vision.hf_path"):
        build_vision(make_config("vistallm-7b").vision)
    with pytest.raises(FileNotFoundError, match="no language-model directory"):
        create_model(make_config("vistallm-7b", SMALL, lm_path="/nonexistent"))


@pytest.mark.parametrize("preset", ["vistallm-7b", "vistallm-siglip"])
def test_real_presets_switch_on_the_grounding_parts(preset, lm_dir, tmp_path):
    """The 7B presets build (at tiny size) with the relevance map, its where tokens, the what token and the
    super-link mask decoder, and run a forward pass."""
    config = make_config(preset)
    it = config.image_tokenizer
    assert (it.grounding, it.where_tokens, it.what_token, config.mask_decoder.enabled) == (True, True, True, True)
    assert config.tokens_per_image == it.num_queries + 4 + 1
    model_cls = CLIPVisionModel if preset == "vistallm-7b" else SiglipVisionModel
    config_cls = CLIPVisionConfig if preset == "vistallm-7b" else SiglipVisionConfig
    torch.manual_seed(0)
    model_cls(config_cls(**TOWER)).save_pretrained(tmp_path / "vision")
    model, processor = create_model(make_config(preset, SMALL, vision_path=str(tmp_path / "vision"),
                                                lm_path=str(lm_dir)))  # fmt: skip
    assert model.mask_decoder is not None
    assert any("relevance" in n for n, _ in model.image_tokenizer.named_modules())
    batch = processor([[image(20, 12)]], ["<image>\nWhere is the circle?"], ["<box><loc_1><loc_2><loc_3><loc_4></box>"])
    assert batch["input_ids"].shape[1] >= model.config.tokens_per_image == 4 + 4 + 1
    out = model(**batch)
    assert torch.isfinite(out.loss)

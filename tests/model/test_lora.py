"""LoRA adapters through peft (:mod:`vistakit.model.lora`): they start as a no-op, only they train, checkpoints
keep base weights and adapters apart (peft's format), and loading merges them into the same outputs."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from vistakit.model import VistaProcessor, build_model
from vistakit.model.lora import LoraSettings, add_lora, has_lora, lora_parts, mark_trainable, merge_lora
from vistakit.model.modeling import VistaModel

from .conftest import image

PROMPT, ANSWER = ["<image>\nWhere is the small red circle?"], ["<p>small red circle</p><box><loc_1><loc_2><loc_5><loc_6></box>"]


def _logits(model, processor):
    with torch.no_grad():
        return model(**processor([[image(20, 12)]], PROMPT, ANSWER)).logits


def _perturb(model):
    """Give the adapters non-zero B matrices (peft starts them at zero), as training would."""
    torch.manual_seed(1)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.5)


def test_adapters_start_as_a_no_op_and_only_they_train_in_the_part(model, processor):
    before = _logits(model, processor)
    n = add_lora(model, LoraSettings(r=4, alpha=8, targets=("q_proj", "v_proj")))
    assert n == 2 * 2 * 4 * (32 + 32) and has_lora(model) and lora_parts(model) == ["lm"]
    assert torch.equal(_logits(model, processor), before)
    mark_trainable(model)
    lm = {n: p.requires_grad for n, p in model.lm.named_parameters()}
    assert all(v == ("lora_" in n) for n, v in lm.items()) and any(lm.values())
    assert all(p.requires_grad for p in model.image_tokenizer.parameters())  # other parts: the stage decides
    with pytest.raises(ValueError, match="already carries"):
        add_lora(model, LoraSettings(r=4))


def test_checkpoint_keeps_base_and_adapters_apart_and_loading_merges(model, processor, tmp_path):
    plain = {k: v.clone() for k, v in model.state_dict().items()}
    add_lora(model, LoraSettings(r=4, alpha=8, parts=("lm", "vision"), targets=("q_proj", "v_proj", "q", "kv")))
    _perturb(model)
    adapted = _logits(model, processor)
    path = model.save_pretrained(tmp_path / "ckpt", processor)
    weights = load_file(str(path / "model.safetensors"))
    assert set(weights) == set(plain) and all(torch.equal(weights[k], plain[k]) for k in plain)
    for part in ("lm", "vision"):
        adapter = load_file(str(path / "lora" / part / "adapter_model.safetensors"))
        assert adapter and all(k.startswith("base_model.model.") and "lora_" in k for k in adapter)
        assert json.loads((path / "lora" / part / "adapter_config.json").read_text())["r"] == 4
    merged = VistaModel.from_pretrained(path)
    assert not has_lora(merged)
    proc = VistaProcessor.from_pretrained(path)
    assert torch.allclose(_logits(merged, proc), adapted, atol=1e-5)
    kept = VistaModel.from_pretrained(path, merge_lora=False)
    assert lora_parts(kept) == ["lm", "vision"]
    assert torch.allclose(_logits(kept, proc), adapted, atol=1e-5)
    assert torch.allclose(_logits(merge_lora(kept), proc), adapted, atol=1e-5) and not has_lora(kept)


def test_lm_adapters_load_with_peft_itself(model, processor, tmp_path):
    from peft import PeftModel

    add_lora(model, LoraSettings(r=2, targets=("q_proj", "o_proj")))
    _perturb(model)
    path = model.save_pretrained(tmp_path / "ckpt", processor)
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        want = model.lm(input_ids=ids).logits
        plain = build_model(model.config, load_weights=False).lm  # a plain LM holding the checkpoint's base weights
        base = load_file(str(path / "model.safetensors"))
        plain.load_state_dict({k[len("lm."):]: v for k, v in base.items() if k.startswith("lm.")})
        got = PeftModel.from_pretrained(plain, str(path / "lora" / "lm")).eval()(input_ids=ids).logits
    assert torch.allclose(got, want, atol=1e-5)


def test_bad_settings_say_what_is_wrong(model):
    with pytest.raises(ValueError, match="rank must be an integer >= 1"):
        add_lora(model, LoraSettings(r=0))
    with pytest.raises(ValueError, match="parts must be some of"):
        add_lora(model, LoraSettings(r=2, parts=("decoder",)))
    with pytest.raises(ValueError, match=r"LoRA on 'lm'.*not found.*q_proj.*set lora_targets"):
        add_lora(model, LoraSettings(r=2, targets=("nonexistent",)))

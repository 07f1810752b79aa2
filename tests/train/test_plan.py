"""The planner (:mod:`vistakit.train.plan`, ``vistakit plan``) on figures that are known."""

import pytest
from transformers import CLIPVisionConfig, CLIPVisionModel

from vistakit.cli import main
from vistakit.model import make_config
from vistakit.train.plan import GB, PartSizes, llama_params, part_sizes, plan, vit_params


def test_llama_7b_has_its_published_parameter_count():
    config = make_config("vistallm-7b", ["lm.vocab_size=32000"])
    assert llama_params(config)[0] == 6_738_415_616  # Llama-2-7B


def test_vit_count_matches_a_built_clip_tower():
    config = make_config("vistallm-7b", ["vision.dim=32", "vision.depth=2", "vision.image_size=32",
                                         "vision.patch_size=8", "vision.mlp_ratio=4.0", "canvas=32"])  # fmt: skip
    tower = CLIPVisionModel(CLIPVisionConfig(hidden_size=32, intermediate_size=128, num_hidden_layers=2,
                                             num_attention_heads=2, image_size=32, patch_size=8))  # fmt: skip
    assert vit_params(config)[0] == sum(p.numel() for p in tower.parameters())


def test_a_7b_lm_under_ddp_needs_112_gb_of_states_and_fsdp_divides_them():
    config = make_config("vistallm-7b")
    sizes = PartSizes(vision=0, lm=7_000_000_000, other=0, lm_block=200_000_000, vision_block=0, lora=40_000_000)
    ddp = plan(sizes, config, "ddp", gpus=8, batch=1, text_tokens=512, images=0)
    assert ddp.params + ddp.grads + ddp.optimizer == pytest.approx(112 * GB)
    fsdp = plan(sizes, config, "fsdp", gpus=8, batch=1, text_tokens=512, images=0)
    assert fsdp.params + fsdp.grads + fsdp.optimizer == pytest.approx(112 * GB / 8 + 4 * 200_000_000)
    lora = plan(sizes, config, "fsdp+lora", gpus=8, batch=1, text_tokens=512, images=0)
    assert lora.params + lora.grads + lora.optimizer == pytest.approx((7e9 * 2 + 40e6 * 16) / 8 + 4 * 200e6)
    assert lora.activations == fsdp.activations == ddp.activations  # the same tokens through the same layers
    assert plan(sizes, config, "ddp", 8, 1, 512, 0, checkpointing=True).activations < ddp.activations / 5
    with pytest.raises(ValueError, match="mode must be one of"):
        plan(sizes, config, "zero2", 8, 1, 512, 0)


def test_part_sizes_of_the_real_preset_are_sensible():
    sizes = part_sizes(make_config("vistallm-7b"), lora_r=32)
    assert 6.7e9 < sizes.lm < 6.8e9 and 3.0e8 < sizes.vision < 3.1e8
    assert sizes.lora == 32 * 32 * 4 * 2 * 4096  # 32 layers × rank 32 × (q, k, v, o) × (in + out)


def test_plan_command_prints_the_three_modes(capsys):
    assert main(["plan", "--gpus", "8", "--gpu-memory", "80", "--batch", "2"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.split() and line.split()[0] in ("ddp", "fsdp", "fsdp+lora")}
    assert set(rows) == {"ddp", "fsdp", "fsdp+lora"}
    assert " NO " in rows["ddp"] and " yes " in rows["fsdp"]  # a 7B LM's AdamW states do not fit one 80 GB GPU
    main(["plan", "--mfu", "2"])
    assert "--mfu in (0, 1]" in capsys.readouterr().err

"""LoRA in a training run (``lora_*`` settings, :mod:`vistakit.train.lora`): only the adapters (and what the stage
trains) change, checkpoints keep them in ``lora/``, a resumed run continues them exactly, and the final model
loads merged."""

import json

import pytest
import torch

from vistakit.model import load_pretrained
from vistakit.model.lora import has_lora
from vistakit.train.config import TrainConfig
from vistakit.train.loop import Trainer


def _cfg(data, out, micro, **kw):
    base = dict(data=str(data), out=str(out), steps=4, batch_size=2, lr=3e-3, warmup=0, log_every=1, eval_every=0,
                save_every=2, tensorboard=False, tokenizer_vocab=300, lora_r=2, lora_alpha=4,
                lora_targets=("q_proj", "v_proj"))  # fmt: skip
    base.update(kw)
    return TrainConfig(**base).with_overrides(micro)


def _losses(out):
    lines = (out / "train" / "log.jsonl").read_text().splitlines()
    return [e["loss"] for e in map(json.loads, lines) if e["kind"] == "train"]


def test_lora_run_trains_adapters_only_in_the_lm_resumes_and_exports_merged(sw_data, micro, tmp_path):
    whole = Trainer(_cfg(sw_data, tmp_path / "whole", micro), progress=False)
    assert whole.param_counts["lora"] == 2 * 2 * 2 * (32 + 32)  # 2 layers × (q, v) × (A + B) of rank 2, width 32
    lm_before = {n: p.detach().clone() for n, p in whole.model.lm.named_parameters() if "lora_" not in n}
    tok_before = next(whole.model.image_tokenizer.parameters()).detach().clone()
    whole.run()
    assert all(torch.equal(p, lm_before[n]) for n, p in whole.model.lm.named_parameters() if "lora_" not in n)
    assert not torch.equal(next(whole.model.image_tokenizer.parameters()), tok_before)  # stage full: it trains
    assert any(float(p.detach().abs().sum()) > 0 for n, p in whole.model.lm.named_parameters() if "lora_B" in n)

    ckpt = tmp_path / "whole" / "checkpoints" / "step-0000002"
    assert (ckpt / "lora" / "lm" / "adapter_model.safetensors").is_file()
    assert (tmp_path / "whole" / "lora" / "lm" / "adapter_config.json").is_file()
    merged, processor = load_pretrained(tmp_path / "whole")
    assert not has_lora(merged)
    batch = processor.from_records(whole.mixture.batch(0, 2), truncation=True)
    whole.model.eval()
    with torch.no_grad():
        assert torch.allclose(merged(**batch).logits, whole.model(**batch).logits, atol=1e-4)

    split = Trainer(_cfg(sw_data, tmp_path / "split", micro), progress=False)
    split.run(stop_at=2)
    resumed = Trainer(_cfg(sw_data, tmp_path / "split", micro), resume=True, progress=False)
    assert resumed.start_step == 2 and has_lora(resumed.model)
    resumed.run()
    assert _losses(tmp_path / "split") == pytest.approx(_losses(tmp_path / "whole"), rel=1e-5)


def test_lora_with_a_stage_that_freezes_the_lm_still_trains_its_adapters(sw_data, micro, tmp_path):
    trainer = Trainer(_cfg(sw_data, tmp_path / "run", micro, stage="stage2"), progress=False)
    trainable = {n.split(".", 1)[0] for n, p in trainer.model.named_parameters() if p.requires_grad}
    assert "lm" in trainable and "vision" not in trainable
    assert all("lora_" in n for n, p in trainer.model.lm.named_parameters() if p.requires_grad)


def test_bad_lora_and_parallel_settings_are_named():
    with pytest.raises(ValueError, match="lora_r must be an integer >= 0"):
        TrainConfig(lora_r=-1)
    with pytest.raises(ValueError, match="lora_\\*: LoRA parts must be some of"):
        TrainConfig(lora_r=4, lora_modules=("decoder",))
    with pytest.raises(ValueError, match="parallel must be one of"):
        TrainConfig(parallel="zero3")
    assert TrainConfig().with_overrides(["lora_r=8", "lora_modules=lm,vision", "parallel=fsdp"]).lora_settings().parts == ("lm", "vision")

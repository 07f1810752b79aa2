import json

import numpy as np
import pytest
import torch

from vistakit.model import load_pretrained
from vistakit.train.config import TrainConfig
from vistakit.train.loop import Trainer, describe, train


def _cfg(data, out, micro, **kw):
    base = dict(
        data=str(data),
        out=str(out),
        steps=20,
        batch_size=4,
        lr=3e-3,
        warmup=2,
        log_every=1,
        eval_every=0,
        save_every=0,
        tensorboard=False,
        tokenizer_vocab=300,
        max_new_tokens=24,
    )
    base.update(kw)
    return TrainConfig(**base).with_overrides(micro)


def _log(out, kind="train"):
    lines = (out / "train" / "log.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["kind"] == kind]


def test_tiny_model_learns_and_writes_a_loadable_model(sw_data, micro, tmp_path):
    cfg = _cfg(sw_data, tmp_path / "run", micro, eval_every=20, val_records=1, val_batches=1, save_every=10)
    result = train(cfg, progress=False)
    assert result.finished and result.step == 20
    losses = [e["loss"] for e in _log(tmp_path / "run")]
    assert len(losses) == 20
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.5, losses
    # validation: a loss and quick metrics for every val task
    assert _log(tmp_path / "run", "val")[0]["step"] == 20
    tasks = {e["task"] for e in _log(tmp_path / "run", "metric")}
    assert tasks == {"rec", "vqa", "which_image", "detection"}
    # the output folder is a model directory; its logits equal the training model's
    model, processor = load_pretrained(tmp_path / "run")
    assert model.config.canvas == 16 and processor.config.bins == 64
    assert (tmp_path / "run" / "train" / "curves.png").is_file()
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["step-0000010", "step-0000020"]


def test_stage2_trains_only_the_image_tokenizer(sw_data, micro, tmp_path):
    trainer = Trainer(_cfg(sw_data, tmp_path / "run", micro, steps=2, stage="stage2", log_every=0), progress=False)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.run()
    after = trainer.model.state_dict()
    changed = {k.split(".")[0] for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"image_tokenizer"}
    assert trainer.param_counts["frozen"] > 0
    assert any("stage stage2" in line for line in describe(trainer))


def test_bf16_autocast_runs_and_keeps_float32_weights(sw_data, micro, tmp_path):
    trainer = Trainer(_cfg(sw_data, tmp_path / "run", micro, steps=2, bf16=True, log_every=1), progress=False)
    trainer.run()
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
    assert all(np.isfinite(e["loss"]) for e in _log(tmp_path / "run"))


def test_bad_runs_fail_clearly(sw_data, micro, tmp_path):
    with pytest.raises(FileNotFoundError, match="no 'nope' split"):
        Trainer(_cfg(sw_data, tmp_path / "a", micro, train_split="nope"), progress=False)
    with pytest.raises(FileNotFoundError, match="no checkpoint to resume from"):
        Trainer(_cfg(sw_data, tmp_path / "b", micro), resume=True, progress=False)
    with pytest.raises(ValueError, match="has no records of task"):
        Trainer(_cfg(sw_data, tmp_path / "c", micro, tasks=("res",)), progress=False)
    with pytest.raises(ValueError, match="needs a data folder"):
        Trainer(TrainConfig(out=str(tmp_path / "d")), progress=False)


def test_region_text_loss_is_logged_and_plotted(sw_data, micro, tmp_path):
    # rec and detection records carry labelled boxes: the region–text loss joins, is logged for train and val
    cfg = _cfg(sw_data, tmp_path / "run", (*micro, "model.vision.region_text_weight=0.5"), steps=4, eval_every=4,
               val_records=0, val_batches=1, tasks=("rec", "detection"))  # fmt: skip
    train(cfg, progress=False)
    logged = _log(tmp_path / "run")
    assert all(np.isfinite(e["region_text_loss"]) and e["region_text_loss"] > 0 for e in logged)
    assert "region_text_loss" in _log(tmp_path / "run", "val")[0]
    assert (tmp_path / "run" / "train" / "curves.png").is_file()

import json

import pytest
import torch

from vistakit.model import load_pretrained
from vistakit.train import checkpoint as ck
from vistakit.train.config import TrainConfig
from vistakit.train.loop import Trainer


def _cfg(data, out, micro, **kw):
    base = dict(
        data=str(data),
        out=str(out),
        steps=6,
        batch_size=3,
        grad_accum=2,
        lr=3e-3,
        warmup=2,
        log_every=1,
        eval_every=0,
        save_every=3,
        tensorboard=False,
        tokenizer_vocab=300,
    )
    base.update(kw)
    return TrainConfig(**base).with_overrides(micro)


def _train_log(out):
    lines = (out / "train" / "log.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["kind"] == "train"]


def test_resume_continues_at_the_same_step_with_the_same_batches(sw_data, micro, tmp_path):
    whole = Trainer(_cfg(sw_data, tmp_path / "whole", micro), progress=False)
    whole.run()
    first = Trainer(_cfg(sw_data, tmp_path / "split", micro), progress=False)
    stopped = first.run(stop_at=3)
    assert not stopped.finished and stopped.step == 3
    assert not (tmp_path / "split" / "config.json").exists()  # no final model before the run ends
    second = Trainer(_cfg(sw_data, tmp_path / "split", micro), resume=True, progress=False)
    assert second.start_step == 3
    assert second.run().finished
    a, b = _train_log(tmp_path / "whole"), _train_log(tmp_path / "split")
    assert [e["step"] for e in b] == [1, 2, 3, 4, 5, 6]
    assert [e["fingerprint"] for e in a] == [e["fingerprint"] for e in b]
    for ea, eb in zip(a, b):
        assert eb["loss"] == pytest.approx(ea["loss"], rel=1e-4, abs=1e-5)
        assert eb["lr"] == pytest.approx(ea["lr"])
    wa = whole.model.state_dict()
    wb = second.model.state_dict()
    assert all(torch.allclose(wa[k], wb[k], atol=1e-5) for k in wa)


def test_a_crash_mid_save_leaves_the_previous_checkpoint_loadable(sw_data, micro, tmp_path, monkeypatch):
    out = tmp_path / "run"
    trainer = Trainer(_cfg(sw_data, out, micro), progress=False)
    real_save = torch.save
    calls = {"n": 0}

    def crash_on_second(obj, path, *a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("killed mid-save")
        return real_save(obj, path, *a, **k)

    monkeypatch.setattr(ck.torch, "save", crash_on_second)
    with pytest.raises(OSError, match="killed mid-save"):
        trainer.run()
    monkeypatch.undo()
    assert [s for s, _ in ck.list_checkpoints(out)] == [3]
    model, _ = load_pretrained(ck.latest_checkpoint(out))
    assert model.config.lm.hidden == 32
    # a plain restart refuses to clobber the run; --resume picks up at step 3 and finishes
    with pytest.raises(ValueError, match="pass --resume"):
        Trainer(_cfg(sw_data, out, micro), progress=False)
    resumed = Trainer(_cfg(sw_data, out, micro), resume=True, progress=False)
    assert resumed.start_step == 3
    assert resumed.run().finished
    assert [s for s, _ in ck.list_checkpoints(out)] == [3, 6]
    assert not list((out / "checkpoints").glob(".tmp-*"))


@pytest.mark.parametrize("legacy", [False, True])
def test_resume_matches_optimizer_state_to_parameters_by_name(sw_data, micro, tmp_path, legacy):
    """The attribute heads' word groups come back from config.json in sorted order, so the resumed model
    registers its parameters in another order than the first run: each must still get its own Adam moments —
    by the names the checkpoint records, or (``legacy``: a checkpoint written before it recorded them) by shape."""
    heads = ("model.vision.attribute_weight=0.5", "model.vision.attribute_vocab=shapesworld",
             "model.vision.attribute_instances=scene")
    whole = Trainer(_cfg(sw_data, tmp_path / "whole", micro).with_overrides(heads), progress=False)
    whole.run()
    first = Trainer(_cfg(sw_data, tmp_path / "split", micro).with_overrides(heads), progress=False)
    first.run(stop_at=3)
    state_file = tmp_path / "split" / "checkpoints" / "step-0000003" / ck.TENSOR_STATE_FILE
    tensors = torch.load(state_file, weights_only=True)
    assert tensors["param_names"].index("attributes.heads.shape.weight") in tensors["optimizer"]["state"]  # trained
    if legacy:
        del tensors["param_names"]
        torch.save(tensors, state_file)
    second = Trainer(_cfg(sw_data, tmp_path / "split", micro).with_overrides(heads), resume=True, progress=False)
    order = [n for n, _ in second.model.named_parameters() if n.startswith("attributes.heads.")]
    assert order != [n for n, _ in first.model.named_parameters() if n.startswith("attributes.heads.")]
    second.run()
    for ea, eb in zip(_train_log(tmp_path / "whole"), _train_log(tmp_path / "split")):
        assert eb["loss"] == pytest.approx(ea["loss"], rel=1e-4, abs=1e-5)
    wa, wb = whole.model.state_dict(), second.model.state_dict()
    assert all(torch.allclose(wa[k], wb[k], atol=1e-5) for k in wa)

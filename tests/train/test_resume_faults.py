"""A kill while ``--resume`` rewrites the run's files, and damaged checkpoints: nothing is lost, and resume
continues from the newest intact checkpoint, saying so."""

import json

import pytest
import torch

from vistakit import atomic
from vistakit.train import checkpoint as ck
from vistakit.train.config import TrainConfig
from vistakit.train.loop import Trainer, describe


def _cfg(data, out, micro, **kw):
    base = dict(data=str(data), out=str(out), steps=6, batch_size=2, grad_accum=1, lr=3e-3, warmup=1, log_every=1,
                eval_every=0, save_every=2, tensorboard=False, tokenizer_vocab=300)  # fmt: skip
    base.update(kw)
    return TrainConfig(**base).with_overrides(micro)


@pytest.fixture(scope="module")
def stopped(sw_data, tmp_path_factory):
    """A run stopped after step 4 (checkpoints at steps 2 and 4), copied fresh for each test."""
    out = tmp_path_factory.mktemp("stopped") / "run"
    Trainer(_cfg(sw_data, out, ("preset=micro",)), progress=False).run(stop_at=4)
    return out


@pytest.fixture
def run_dir(stopped, tmp_path):
    import shutil

    return shutil.copytree(stopped, tmp_path / "run")


def _kill_at_replace_of(name, monkeypatch):
    real = atomic.os.replace

    def replace(src, dst):
        if str(dst).endswith(name):
            raise KeyboardInterrupt(f"killed while replacing {name}")
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace)


@pytest.mark.parametrize("name", ["log.jsonl", "train_config.json"])
def test_a_kill_while_resume_rewrites_a_file_leaves_it_whole(name, run_dir, sw_data, micro, monkeypatch):
    path = run_dir / "train" / name
    before = path.read_bytes()
    assert before.strip()
    trainer = Trainer(_cfg(sw_data, run_dir, micro), resume=True, progress=False)
    _kill_at_replace_of(name, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        trainer.run()
    monkeypatch.undo()
    assert path.read_bytes() == before  # the old content, byte for byte: never emptied, never torn
    assert not [p.name for p in path.parent.glob(f".{name}.tmp-*")]
    assert Trainer(_cfg(sw_data, run_dir, micro), resume=True, progress=False).run().finished


def test_resume_skips_a_truncated_newest_checkpoint_and_says_so(run_dir, sw_data, micro, capsys):
    weights = ck.checkpoint_dir(run_dir, 4) / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    trainer = Trainer(_cfg(sw_data, run_dir, micro), resume=True, progress=False)
    assert trainer.start_step == 2 and trainer.latest.name == "step-0000002"
    err = capsys.readouterr().err
    assert "skipping the damaged checkpoint step-0000004" in err and "model.safetensors" in err
    assert any("skipped the damaged checkpoint step-0000004" in line for line in describe(trainer))
    result = trainer.run()
    assert result.finished and result.step == 6
    steps = [e["step"] for e in map(json.loads, (run_dir / "train" / "log.jsonl").read_text().splitlines())
             if e["kind"] == "train"]  # fmt: skip
    assert steps == [1, 2, 3, 4, 5, 6]  # the log reads as one run: steps 3-4 were redone, not repeated
    ck.check_checkpoint(ck.checkpoint_dir(run_dir, 4))  # the damaged folder was replaced by a whole one


@pytest.mark.parametrize("damage", [b"", b"PK\x03\x04 not a whole archive"])
def test_resume_skips_a_damaged_training_state(damage, run_dir, sw_data, micro, capsys):
    (ck.checkpoint_dir(run_dir, 4) / ck.TENSOR_STATE_FILE).write_bytes(damage)
    trainer = Trainer(_cfg(sw_data, run_dir, micro), resume=True, progress=False)
    assert trainer.start_step == 2
    assert "training_state.pt" in capsys.readouterr().err


def test_resume_refuses_when_every_checkpoint_is_damaged(run_dir, sw_data, micro):
    for step in (2, 4):
        (ck.checkpoint_dir(run_dir, step) / "config.json").write_text('{"lm": ')
    with pytest.raises(ValueError, match=r"every checkpoint .* is damaged .*step-0000004: .*config.json: not valid JSON"):
        Trainer(_cfg(sw_data, run_dir, micro), resume=True, progress=False)


def test_a_truncated_training_state_is_named_when_restored(run_dir):
    path = ck.checkpoint_dir(run_dir, 4) / ck.TENSOR_STATE_FILE
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match="not a whole training-state archive"):
        ck.check_checkpoint(path.parent)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    with pytest.raises(ValueError, match=r"training_state\.pt: not a readable training state"):
        ck.restore_training_state(path.parent, opt, sched)


def test_the_train_command_resumes_with_a_damaged_train_config(run_dir, capsys):
    from vistakit.commands.train import _saved_settings

    saved = run_dir / "train" / "train_config.json"
    want = json.loads(saved.read_text())
    saved.write_text(saved.read_text()[:40])
    cfg = _saved_settings(saved, run_dir)
    assert cfg.to_dict() == want
    assert "not valid JSON" in capsys.readouterr().err

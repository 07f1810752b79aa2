import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from vistakit.train import checkpoint as ck


class Saveable(nn.Module):
    """Stands in for VistaModel: a module with save_pretrained(folder)."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def save_pretrained(self, folder, processor=None):
        folder.mkdir(parents=True)
        save_file(self.state_dict(), folder / "model.safetensors")
        (folder / "config.json").write_text("{}")


def _setup():
    torch.manual_seed(0)
    m = Saveable()
    opt = torch.optim.AdamW(m.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 / (s + 1))
    m.lin(torch.randn(2, 3)).sum().backward()
    opt.step()
    sched.step()
    return m, opt, sched


def test_save_restore_round_trip_and_pruning(tmp_path):
    m, opt, sched = _setup()
    for step in (2, 4, 6):
        ck.save_checkpoint(tmp_path, step, m, None, opt, sched, {"note": step}, keep=2)
    assert [s for s, _ in ck.list_checkpoints(tmp_path)] == [4, 6]
    latest = ck.latest_checkpoint(tmp_path)
    assert ck.read_trainer_state(latest)["step"] == 6
    expected_rng = torch.get_rng_state()
    torch.rand(5)
    m2 = Saveable()
    m2.load_state_dict(load_file(latest / "model.safetensors"))
    opt2 = torch.optim.AdamW(m2.parameters(), lr=1e-2)
    sched2 = torch.optim.lr_scheduler.LambdaLR(opt2, lambda s: 1.0 / (s + 1))
    ck.restore_training_state(latest, opt2, sched2)
    assert sched2.last_epoch == sched.last_epoch
    assert torch.equal(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    assert torch.equal(torch.get_rng_state(), expected_rng)


def test_crash_mid_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    m, opt, sched = _setup()
    ck.save_checkpoint(tmp_path, 2, m, None, opt, sched, {})
    good = ck.latest_checkpoint(tmp_path)
    before = load_file(good / "model.safetensors")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(ck.torch, "save", boom)
    with torch.no_grad():
        m.lin.weight.add_(1.0)
    with pytest.raises(OSError, match="disk full"):
        ck.save_checkpoint(tmp_path, 4, m, None, opt, sched, {})
    monkeypatch.undo()
    # the half-written folder is hidden and ignored; the step-2 checkpoint is intact and still the latest
    assert ck.latest_checkpoint(tmp_path) == good
    assert list((tmp_path / "checkpoints").glob(".tmp-*"))
    assert torch.equal(load_file(good / "model.safetensors")["lin.weight"], before["lin.weight"])
    ck.restore_training_state(good, opt, sched)
    # the next save cleans the leftover
    ck.save_checkpoint(tmp_path, 4, m, None, opt, sched, {})
    assert not list((tmp_path / "checkpoints").glob(".tmp-*"))
    assert [s for s, _ in ck.list_checkpoints(tmp_path)] == [2, 4]


def test_resaving_a_step_replaces_it(tmp_path):
    m, opt, sched = _setup()
    ck.save_checkpoint(tmp_path, 2, m, None, opt, sched, {"v": 1})
    ck.save_checkpoint(tmp_path, 2, m, None, opt, sched, {"v": 2})
    assert ck.read_trainer_state(ck.latest_checkpoint(tmp_path))["v"] == 2
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step-0000002"]


def test_export_model_into_out(tmp_path):
    m, *_ = _setup()
    (tmp_path / "train").mkdir()
    ck.export_model(m, None, tmp_path)
    assert (tmp_path / "config.json").is_file() and (tmp_path / "model.safetensors").is_file()
    assert (tmp_path / "train").is_dir() and not list(tmp_path.glob(".tmp-*"))


def test_not_a_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a training checkpoint"):
        ck.read_trainer_state(tmp_path)
    (tmp_path / "trainer_state.json").write_text("{bad")
    with pytest.raises(ValueError, match="not valid JSON"):
        ck.read_trainer_state(tmp_path)

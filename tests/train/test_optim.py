import pytest
import torch
from torch import nn

from vistakit.train.optim import apply_stage, build_optimizer, build_scheduler, lr_factor


class Toy(nn.Module):
    def __init__(self):
        super().__init__()
        self.vision = nn.Linear(4, 4)
        self.image_tokenizer = nn.Linear(4, 4)
        self.lm = nn.Sequential(nn.Embedding(10, 4), nn.LayerNorm(4))


def test_stages_freeze_the_right_parts():
    m = Toy()
    apply_stage(m, "stage2")
    assert {n.split(".")[0] for n, p in m.named_parameters() if p.requires_grad} == {"image_tokenizer"}
    apply_stage(m, "stage1")
    assert {n.split(".")[0] for n, p in m.named_parameters() if p.requires_grad} == {"image_tokenizer", "lm"}
    counts = apply_stage(m, "full")
    assert counts["frozen"] == 0 and counts["trainable"] == sum(p.numel() for p in m.parameters())


def test_unknown_stage_and_missing_part():
    with pytest.raises(KeyError, match="known: full, stage1, stage2"):
        apply_stage(Toy(), "stage3")
    with pytest.raises(ValueError, match=r"freezes \['vision'\]"):
        apply_stage(nn.Sequential(nn.Linear(2, 2)), "stage1")


def test_no_decay_on_biases_and_norms_and_frozen_parts_excluded():
    m = Toy()
    apply_stage(m, "stage1")
    opt = build_optimizer(m, 1e-3, 0.1)
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay["params"]) and all(p.dim() < 2 for p in no_decay["params"])
    ids = {id(p) for g in opt.param_groups for p in g["params"]}
    assert id(m.vision.weight) not in ids and id(m.lm[0].weight) in ids


def test_schedule_warmup_then_cosine_to_floor():
    assert lr_factor(0, 100, 10, 0.1) == pytest.approx(0.1)
    assert lr_factor(9, 100, 10, 0.1) == pytest.approx(1.0)
    assert lr_factor(10, 100, 10, 0.1) == pytest.approx(1.0)
    assert lr_factor(55, 100, 10, 0.1) == pytest.approx(0.55)
    assert lr_factor(100, 100, 10, 0.1) == pytest.approx(0.1)
    assert lr_factor(50, 100, 0, 0.0, "constant") == 1.0
    vals = [lr_factor(s, 100, 10, 0.1) for s in range(10, 101)]
    assert all(a >= b for a, b in zip(vals, vals[1:]))


def test_scheduler_drives_the_optimizer_lr():
    m = Toy()
    opt = build_optimizer(m, 2e-3, 0.0)
    sched = build_scheduler(opt, total=10, warmup=2, min_ratio=0.0)
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-3)
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(2e-3)
    torch.testing.assert_close(torch.tensor(sched.get_last_lr()[0]), torch.tensor(2e-3))

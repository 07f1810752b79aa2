import pytest
import torch
from torch import nn

from vistakit.train.config import TrainConfig
from vistakit.train.loop import Trainer
from vistakit.train.muon import MuonAdamW, muon_groups, orthogonalize
from vistakit.train.optim import build_optimizer, build_scheduler


class Toy(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(12, 8)
        self.hidden = nn.Linear(8, 16)
        self.norm = nn.LayerNorm(16)
        self.out = nn.Linear(16, 12)


def test_orthogonalize_flattens_the_singular_values():
    torch.manual_seed(0)
    for shape in [(16, 40), (40, 16), (24, 24)]:
        k = min(shape)
        u, v = torch.linalg.qr(torch.randn(shape[0], k))[0], torch.linalg.qr(torch.randn(shape[1], k))[0]
        g = u @ torch.diag(torch.logspace(-1, 1, k)) @ v.T  # singular values from 0.1 to 10
        s = torch.linalg.svdvals(orthogonalize(g).float())
        assert s.min() > 0.5 and s.max() < 1.25, (shape, s.min(), s.max())
        assert orthogonalize(g).shape == g.shape
    with pytest.raises(ValueError, match="expects a matrix"):
        orthogonalize(torch.randn(3, 4, 5))


def test_groups_put_embeddings_heads_and_vectors_on_adamw():
    m = Toy()
    m.lm = nn.Module()
    m.lm.get_output_embeddings = lambda: m.out  # the LM's output head, as a Hugging Face model names it
    groups = muon_groups(m, 0.1)
    muon = {id(p) for g in groups if g["muon"] for p in g["params"]}
    assert muon == {id(m.hidden.weight)}
    decayed = {id(p) for g in groups if not g["muon"] and g["weight_decay"] > 0 for p in g["params"]}
    assert decayed == {id(m.embed.weight), id(m.out.weight)}
    plain = [g for g in groups if g["weight_decay"] == 0]
    assert len(plain) == 1 and all(p.dim() == 1 for p in plain[0]["params"])
    with pytest.raises(ValueError, match="matrices only"):
        MuonAdamW([{"params": [m.hidden.bias], "muon": True}])


def test_muon_trains_a_regression_and_its_state_round_trips():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1))
    x = torch.randn(256, 8)
    y = (x[:, :1] * x[:, 1:2]).sin()
    opt = build_optimizer(net, 3e-3, 0.0, kind="muon")
    assert isinstance(opt, MuonAdamW) and any(g["muon"] for g in opt.param_groups)
    sched = build_scheduler(opt, total=600, warmup=10, min_ratio=0.1)
    first = nn.functional.mse_loss(net(x), y).item()
    for _ in range(600):
        loss = nn.functional.mse_loss(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    assert loss.item() < 0.2 * first
    again = build_optimizer(net, 3e-3, 0.0, kind="muon")
    again.load_state_dict(opt.state_dict())
    p = net[2].weight
    assert torch.equal(again.state[p]["momentum_buffer"], opt.state[p]["momentum_buffer"])


def test_matrix_steps_match_torch_muon():
    torch.manual_seed(0)
    w = nn.Parameter(torch.randn(6, 10))
    ref = nn.Parameter(w.detach().clone())
    ours = MuonAdamW([{"params": [w], "muon": True}], lr=0.02, weight_decay=0.1)
    theirs = torch.optim.Muon([ref], lr=0.02, weight_decay=0.1, adjust_lr_fn="match_rms_adamw")
    for _ in range(3):
        grad = torch.randn(6, 10)
        w.grad, ref.grad = grad.clone(), grad.clone()
        ours.step()
        theirs.step()
    assert torch.allclose(w, ref, atol=1e-6)


def test_unknown_optimizer_is_refused():
    with pytest.raises(ValueError, match=r"optimizer must be one of \['adamw', 'muon'\], got 'sgd'"):
        TrainConfig(optimizer="sgd")
    with pytest.raises(ValueError, match="optimizer must be one of"):
        build_optimizer(Toy(), 1e-3, 0.0, kind="sgd")


def test_a_run_with_muon_resumes_where_it_stopped(sw_data, micro, tmp_path):
    def cfg(out):
        return TrainConfig(data=str(sw_data), out=str(out), steps=4, batch_size=3, lr=3e-3, warmup=1, log_every=1,
                           eval_every=0, save_every=2, tensorboard=False, tokenizer_vocab=300,
                           optimizer="muon").with_overrides(micro)  # fmt: skip

    whole = Trainer(cfg(tmp_path / "whole"), progress=False)
    assert isinstance(whole.optimizer, MuonAdamW)
    whole.run()
    Trainer(cfg(tmp_path / "split"), progress=False).run(stop_at=2)
    second = Trainer(cfg(tmp_path / "split"), resume=True, progress=False)
    assert second.start_step == 2
    second.run()
    wa, wb = whole.model.state_dict(), second.model.state_dict()
    assert all(torch.allclose(wa[k], wb[k], atol=1e-5) for k in wa)

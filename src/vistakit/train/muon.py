"""Muon for the matrices of hidden layers, AdamW for everything else, in one optimizer.

Muon (Jordan et al., 2024, "Muon: an optimizer for hidden layers in neural networks") replaces each weight
matrix's momentum by its nearest semi-orthogonal matrix (a few Newton–Schulz iterations) before the step, so every
direction of the update moves at the same rate. It is meant for the 2-D weights *inside* the network; embedding
tables, the language model's output head, convolution kernels, biases and norm scales keep AdamW
(:func:`muon_groups`). ``torch.optim.Muon`` handles only the
matrices, and a learning-rate scheduler drives one optimizer, so this class holds both kinds of parameter group
(``"muon": True`` or ``False``) and steps each with its own rule. The update of a Muon matrix ``A x B`` is scaled
by ``0.2 * sqrt(max(A, B))`` — the root-mean-square of an AdamW step — so both kinds share ``lr`` and
``weight_decay`` (Liu et al., 2025, "Muon is scalable for LLM training"; ``adjust_lr_fn="match_rms_adamw"`` in
``torch.optim.Muon``).

Its state is one entry per parameter, as for any ``torch.optim.Optimizer``: checkpoints save and restore it
(:mod:`vistakit.train.checkpoint`).
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import torch

# the quintic Newton-Schulz coefficients of Muon's reference implementation (also torch.optim.Muon's defaults)
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def orthogonalize(g: torch.Tensor, steps: int = 5, eps: float = 1e-7) -> torch.Tensor:
    """An approximation of ``U V^T`` for ``g = U S V^T`` (a 2-D tensor), by ``steps`` quintic Newton-Schulz
    iterations run on the shorter side, in bfloat16 (as ``torch.optim.Muon``: the iteration tolerates it, and it
    is the dearer part of a step)."""
    if g.dim() != 2:
        raise ValueError(f"orthogonalize expects a matrix, got a tensor of shape {tuple(g.shape)}")
    a, b, c = NS_COEFFICIENTS
    tall = g.shape[0] > g.shape[1]
    x = (g.T if tall else g).bfloat16()
    x = x / x.norm().clamp(min=eps)
    for _ in range(steps):
        gram = x @ x.T
        x = torch.addmm(x, torch.addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return x.T if tall else x


class MuonAdamW(torch.optim.Optimizer):
    """Muon on the groups marked ``"muon": True`` (2-D parameters only), AdamW on the others.

    Build the groups with :func:`muon_groups`. ``momentum`` / ``nesterov`` / ``ns_steps`` are Muon's; ``betas`` /
    ``eps`` AdamW's; ``lr`` and ``weight_decay`` (decoupled, as in AdamW) apply to both.
    """

    def __init__(self, params: Iterable[dict[str, Any]], lr: float = 1e-3, weight_decay: float = 0.0,
                 betas: tuple[float, float] = (0.9, 0.95), eps: float = 1e-8, momentum: float = 0.95,
                 nesterov: bool = True, ns_steps: int = 5) -> None:  # fmt: skip
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr!r}")
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        if not (isinstance(ns_steps, int) and ns_steps >= 1):
            raise ValueError(f"ns_steps must be an integer >= 1, got {ns_steps!r}")
        defaults = dict(lr=lr, weight_decay=weight_decay, betas=tuple(betas), eps=eps, momentum=momentum,
                        nesterov=nesterov, ns_steps=ns_steps, muon=False)  # fmt: skip
        super().__init__(params, defaults)
        for group in self.param_groups:
            if group["muon"]:
                bad = [tuple(p.shape) for p in group["params"] if p.dim() != 2]
                if bad:
                    raise ValueError(f"Muon groups hold matrices only; got parameters of shapes {bad[:3]}")

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:  # noqa: D102 - torch.optim.Optimizer.step
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, wd = group["lr"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if wd:
                    p.mul_(1 - lr * wd)
                if group["muon"]:
                    self._muon_update(p, group)
                else:
                    self._adamw_update(p, group)
        return loss

    def _muon_update(self, p: torch.Tensor, group: dict[str, Any]) -> None:
        state = self.state[p]
        if not state:
            state["momentum_buffer"] = torch.zeros_like(p)
        buf = state["momentum_buffer"]
        m = group["momentum"]
        buf.lerp_(p.grad, 1 - m)
        update = p.grad.lerp(buf, m) if group["nesterov"] else buf
        scale = 0.2 * math.sqrt(max(p.shape))
        p.add_(orthogonalize(update, group["ns_steps"]), alpha=-group["lr"] * scale)

    def _adamw_update(self, p: torch.Tensor, group: dict[str, Any]) -> None:
        state = self.state[p]
        if not state:
            state["step"] = torch.zeros((), dtype=torch.float32)
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        beta1, beta2 = group["betas"]
        state["step"] += 1
        t = float(state["step"])
        state["exp_avg"].lerp_(p.grad, 1 - beta1)
        state["exp_avg_sq"].mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
        denom = (state["exp_avg_sq"] / (1 - beta2**t)).sqrt_().add_(group["eps"])
        p.addcdiv_(state["exp_avg"], denom, value=-group["lr"] / (1 - beta1**t))


def muon_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """The trainable parameters of ``model`` as :class:`MuonAdamW` groups. AdamW with weight decay: embedding
    tables (every ``nn.Embedding``), the language model's output head (``model.lm.get_output_embeddings()``) and
    tensors of more than two dimensions (convolution kernels); AdamW without it: biases and norm scales (as
    :func:`vistakit.train.optim.build_optimizer`); Muon: every other 2-D parameter — the linear layers' weights,
    small output heads included, and bare 2-D parameters such as the image tokenizer's learned queries (the rule
    the measured runs of docs/experiments.md used)."""
    table = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding)}
    lm = getattr(model, "lm", None)
    head = lm.get_output_embeddings() if lm is not None and hasattr(lm, "get_output_embeddings") else None
    if head is not None:
        table.add(id(head.weight))
    muon, adam_decay, adam_plain = [], [], []
    for p in model.parameters():
        if not p.requires_grad:
            continue
        if p.dim() == 2 and id(p) not in table:
            muon.append(p)
        elif p.dim() >= 2:
            adam_decay.append(p)
        else:
            adam_plain.append(p)
    groups = [
        {"params": muon, "muon": True, "weight_decay": weight_decay},
        {"params": adam_decay, "muon": False, "weight_decay": weight_decay},
        {"params": adam_plain, "muon": False, "weight_decay": 0.0},
    ]
    return [g for g in groups if g["params"]]

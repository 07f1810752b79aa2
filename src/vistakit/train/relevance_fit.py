"""Fit the image tokenizer's relevance head alone on cached inputs: its maps on a comparison's two objects.

A comparison question ("Is the A left of / larger than the B?") made with ``--question-grounding objects`` trains
the relevance map on the A and the relation term's anchor map on the B. Trained with the rest of the model, the two
maps stayed one map (docs/experiments.md, 3 December); trained alone, without the relation's cross-entropy, they
split the two objects in a minute. This does that as a recipe stage: it records what the head receives (the
tower's instruction-conditioned patch features and the instruction's word embeddings) for a split's comparison
questions and ``rec`` REC and RES records each (their own maps, so the head keeps what it does for referring
expressions), trains the head on the model's map losses (relevance and anchor BCE; the relation's cross-entropy ×
``relation_weight``, 0 by default) and writes it back into the model. The tower and the LM are fixed, so the inputs
are computed once: 2,000 steps take a few minutes on 2 cores.

:func:`map_hits` scores the split: how often each map's strongest patch lies on its object (and on the other).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..data.record import Record
from ..model.grounding import anchor_loss, grounding_loss, relation_loss

LENGTH = 64  # instructions padded to one length so every chunk stacks
KEYS = ("patches", "words", "context", "mask", "grounding", "anchor", "relation")


def is_comparison(record: Record) -> bool:
    """A VQA record whose question grounds as two objects (``meta.grounding_mask`` and ``meta.anchor_mask``)."""
    return (record.task == "vqa" and record.meta.get("grounding_mask") is not None
            and record.meta.get("anchor_mask") is not None)  # fmt: skip


def select_records(records: Sequence[Record], comparisons: int, rec: int) -> list[Record]:
    """The first ``comparisons`` comparison questions, then the first ``rec`` REC and ``rec`` RES records."""
    out = [r for r in records if is_comparison(r)][:comparisons]
    if not out:
        raise ValueError("no VQA records with both meta.grounding_mask and meta.anchor_mask (comparison questions "
                         "made with vistakit data generate --ground-questions position,size --question-grounding objects)")
    for task in ("rec", "res"):
        out += [r for r in records if r.task == task][:rec]
    return out


def head_inputs(model, processor, records: Sequence[Record], context: int = 0, chunk: int = 64) -> dict[str, torch.Tensor]:
    """What the relevance head receives for ``records`` and its targets, stacked; ``cmp`` marks the comparisons.
    ``context`` > 0 also records the LM's layer-``context`` states of the instruction's words (an experiment of
    ``research/head_fit.py``; zeros otherwise)."""
    it = model.config.image_tokenizer
    if not (it.kind == "instruction" and it.grounding and it.relations):
        raise ValueError("the model has no relevance head with a relation term (image_tokenizer.kind 'instruction', "
                         "grounding and relations on)")  # fmt: skip
    seen: list[tuple[torch.Tensor, ...]] = []
    hook = model.image_tokenizer.relevance.register_forward_hook(lambda m, args, out: seen.append(args))
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in KEYS}
    was_training = model.training
    model.eval()
    try:
        for i in range(0, len(records), chunk):
            batch = processor.from_records(records[i : i + chunk], with_answers=True)
            with torch.no_grad():
                model.encode_images(batch["pixel_values"], batch["image_to_sample"], batch["instruction_ids"],
                                    batch["instruction_mask"])  # fmt: skip
                states = None
                if context:
                    states = model.lm.base_model(input_ids=batch["instruction_ids"], attention_mask=batch["instruction_mask"],
                                                 output_hidden_states=True).hidden_states[context]  # fmt: skip
            patches, words, mask = seen.pop()
            if words.shape[1] > LENGTH:
                raise ValueError(f"an instruction of {words.shape[1]} tokens: the fit pads to {LENGTH}")
            pad = (0, 0, 0, LENGTH - words.shape[1])
            ctx = states[batch["image_to_sample"]].float() if states is not None else torch.zeros_like(words.float())
            for k, v in zip(KEYS, (patches.float(), F.pad(words.float(), pad), F.pad(ctx, pad),
                                   F.pad(mask, (0, LENGTH - mask.shape[1])), batch["grounding"].float(),
                                   batch["anchor_grounding"].float(), batch["relation_labels"])):  # fmt: skip
                parts[k].append(v)
    finally:
        hook.remove()
        model.train(was_training)
    out = {k: torch.cat(v) for k, v in parts.items()}
    out["cmp"] = torch.tensor([is_comparison(r) for r in records])
    return out


def run_head(head, gate: torch.Tensor, data: dict[str, torch.Tensor], idx: torch.Tensor):
    return head(data["patches"][idx], data["words"][idx] + gate * data["context"][idx], data["mask"][idx])


def head_loss(head, gate: torch.Tensor, data: dict[str, torch.Tensor], idx: torch.Tensor,
              relation_weight: float = 0.0) -> torch.Tensor:  # fmt: skip
    """The model's map losses (:meth:`VistaModel.forward` adds the same three), the relation's × ``relation_weight``."""
    relevance, (anchor, which) = run_head(head, gate, data, idx)
    rel = relation_loss(which, data["relation"][idx])
    parts = (grounding_loss(relevance, data["grounding"][idx]), anchor_loss(anchor, data["anchor"][idx]),
             None if rel is None or not relation_weight else relation_weight * rel)  # fmt: skip
    return sum(p for p in parts if p is not None)


@dataclass
class MapHits:
    """On comparison questions: how often the relevance map's strongest patch lies on the A (``a``; ``a_on_b``:
    on the B) and the anchor map's on the B (``b``; ``b_on_a``: on the A)."""

    a: float
    a_on_b: float
    b: float
    b_on_a: float
    n: int

    def __str__(self) -> str:
        return f"map on A {self.a:.3f} (on B {self.a_on_b:.3f}) · anchor on B {self.b:.3f} (on A {self.b_on_a:.3f})"


def map_hits(head, data: dict[str, torch.Tensor], gate: torch.Tensor | None = None) -> MapHits:
    idx = data["cmp"].nonzero()[:, 0]
    gate = torch.zeros(()) if gate is None else gate
    with torch.no_grad():
        relevance, (anchor, _) = run_head(head, gate, data, idx)
    first, second = relevance[:, 0].argmax(1), anchor.argmax(1)
    a, b = data["grounding"][idx, 0] > 0, data["anchor"][idx] > 0

    def on(m: torch.Tensor, i: torch.Tensor) -> float:
        return m.gather(1, i[:, None]).float().mean().item()

    return MapHits(on(a, first), on(b, first), on(b, second), on(a, second), len(idx))


def fit_head(head, data: dict[str, torch.Tensor], steps: int, lr: float = 1e-3, batch_size: int = 64,
             relation_weight: float = 0.0, gate: torch.Tensor | None = None, seed: int = 0,
             log=None) -> torch.nn.Module:  # fmt: skip
    """A float copy of ``head`` trained ``steps`` AdamW steps on ``data`` (batches drawn with ``seed``); ``gate``
    (a tensor with ``requires_grad``) trains with it. ``log(step, loss, head)`` every 500 steps and at the end
    (the loss over all of ``data``)."""
    if steps < 1 or lr <= 0 or batch_size < 1 or relation_weight < 0:
        raise ValueError(f"fit_head needs steps >= 1, lr > 0, batch_size >= 1 and relation_weight >= 0, got steps "
                         f"{steps}, lr {lr}, batch_size {batch_size}, relation_weight {relation_weight}")  # fmt: skip
    gen = torch.Generator().manual_seed(seed)
    head = copy.deepcopy(head).float().train()
    gate = torch.zeros(()) if gate is None else gate
    params = [*head.parameters(), *([gate] if gate.requires_grad else [])]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    n = len(data["cmp"])
    for step in range(1, steps + 1):
        value = head_loss(head, gate, data, torch.randint(n, (batch_size,), generator=gen), relation_weight)
        opt.zero_grad()
        value.backward()
        opt.step()
        if log is not None and (step % 500 == 0 or step == steps):
            with torch.no_grad():
                log(step, head_loss(head, gate, data, torch.arange(n), relation_weight).item(), head)
    return head.eval()

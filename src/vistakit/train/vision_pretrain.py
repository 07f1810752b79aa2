"""Vision pre-training: a short first stage that teaches a from-scratch tower what the labelled things look like.

Real presets start from a pretrained CLIP / SigLIP tower. The tiny preset's ViT starts from random weights, and
the language-model losses of the main loop teach it slowly what a *shape* looks like (``research/attribute_probe.py``:
colour is read well after the whole run, shape barely above chance). This stage gives the tower a dense, direct
signal first, without the language model (so each step is a few times cheaper):

- every labelled instance of the training records becomes per-patch classes of attribute words
  (:mod:`vistakit.model.attributes`: ShapesWorld's shape / colour / size by default, or a JSON file of word groups);
- the tower (with no instruction: :meth:`VistaModel.plain_features`) and one linear head per group are trained
  with per-patch cross-entropy (AdamW, warmup + cosine), then the heads are dropped.

At the end the stage reports, on the validation records' instances, how often the coverage-weighted mean of the
head's patch logits names each group's word — the same read-out as the attribute probe.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.record import Record
from ..model.attributes import IGNORE, PatchLabels, labelled, load_vocab, patch_labels


def _prepare(records: Sequence[Record], processor, groups, chunk: int = 256) -> tuple[torch.Tensor, PatchLabels]:
    """Pixel values of every image of ``records`` and their :class:`PatchLabels` (processed ``chunk`` at a time)."""
    grid = math.isqrt(processor.config.vision.num_patches)
    pixels, parts, offset = [], [], 0
    for s in range(0, len(records), chunk):
        part = list(records[s : s + chunk])
        batch = processor.from_records(part, with_answers=False)
        labels = patch_labels(part, batch.transforms, grid, groups)
        pixels.append(batch["pixel_values"])
        parts.append((labels, offset))
        offset += len(batch["pixel_values"])
    if not pixels:
        raise ValueError("vision pre-training found no labelled instances whose words the vocabulary knows")
    return torch.cat(pixels), PatchLabels(
        torch.cat([p.patches for p, _ in parts]),
        torch.cat([p.weights for p, _ in parts]),
        torch.cat([p.image + o for p, o in parts]),
        torch.cat([p.classes for p, _ in parts]),
    )


@torch.no_grad()
def attribute_accuracy(model, heads: nn.ModuleList, pixels: torch.Tensor, labels: PatchLabels,
                       batch: int = 256) -> list[float]:  # fmt: skip
    """Per group: the fraction of instances (with a class in that group) whose coverage-weighted mean of patch
    logits picks their class (NaN for a group no instance names)."""
    hits = torch.zeros(len(heads))
    total = torch.zeros(len(heads))
    for s in range(0, len(labels.image), batch):
        idx = torch.arange(s, min(s + batch, len(labels.image)))
        images, inverse = labels.image[idx].unique(return_inverse=True)
        feats = model.plain_features(pixels[images]).float()
        pooled = torch.einsum("mp,mpd->md", labels.weights[idx], feats[inverse])
        for g, head in enumerate(heads):
            y = labels.classes[idx, g]
            keep = y != IGNORE
            hits[g] += (head(pooled[keep]).argmax(-1) == y[keep]).sum()
            total[g] += keep.sum()
    return [float(h / t) if t else math.nan for h, t in zip(hits, total)]


def pretrain_vision(
    model,
    processor,
    records: Sequence[Record],
    val_records: Sequence[Record],
    *,
    steps: int,
    batch_size: int,
    max_records: int,
    vocab: str,
    lr: float,
    weight_decay: float,
    seed: int,
    autocast: Callable[[], object],
    log: Callable[..., object] | None = None,
    log_every: int = 50,
    echo: Callable[[str], None] | None = None,
) -> dict[str, float]:
    """Train ``model``'s vision tower for ``steps`` on patch labels of up to ``max_records`` labelled training
    records (see the module docstring); returns ``{group: accuracy}`` on the validation instances (empty
    without validation records). ``log(kind, step, **values)`` receives ``vision_pretrain`` entries."""
    groups = load_vocab(vocab, "vision_pretrain_vocab")
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    pool = labelled(records, groups)
    if not pool:
        raise ValueError(f"vision pre-training: no training record has an instance label using the words of "
                         f"{vocab!r} ({', '.join(groups)})")  # fmt: skip
    if len(pool) > max_records:
        pool = [pool[i] for i in sorted(rng.choice(len(pool), max_records, replace=False))]
    pixels, labels = _prepare(pool, processor, groups)
    has_label = (labels.patches != IGNORE).any(1).any(1).nonzero().squeeze(1)
    device = next(model.parameters()).device
    dim = model.config.vision.dim
    heads = nn.ModuleList(nn.Linear(dim, len(words)) for words in groups.values()).to(device)
    params = [p for p in model.vision.parameters() if p.requires_grad] + list(heads.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=(0.9, 0.95))
    warm = min(100, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, warm)) * (
        0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, s / max(1, steps))))))  # fmt: skip
    gen = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.train()
    window, t_log = [], time.perf_counter()
    if echo:
        echo(
            f"vision pre-training: {len(pool)} records, {len(has_label)} images, {len(labels.image)} instances "
            f"({', '.join(groups)}), {steps} steps × {batch_size} images ({time.perf_counter() - t0:.0f} s to load)"
        )
    for step in range(1, steps + 1):
        idx = has_label[torch.randint(len(has_label), (batch_size,), generator=gen)]
        target = labels.patches[idx].to(device)
        with autocast():
            feats = model.plain_features(pixels[idx].to(device))
            loss = sum(
                F.cross_entropy(head(feats).flatten(0, 1).float(), target[:, g].reshape(-1), ignore_index=IGNORE)
                for g, head in enumerate(heads)
                if (target[:, g] != IGNORE).any()
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        window.append(float(loss.detach()))
        if log_every and (step % log_every == 0 or step == steps):
            rate = len(window) * batch_size / max(time.perf_counter() - t_log, 1e-9)
            if log:
                log("vision_pretrain", step, loss=sum(window) / len(window), images_per_s=rate)
            if echo:
                echo(f"vision pre-training step {step}/{steps}: loss {sum(window) / len(window):.4f}, "
                     f"{rate:.0f} images/s")  # fmt: skip
            window, t_log = [], time.perf_counter()
    model.train(was_training)
    result: dict[str, float] = {}
    val = labelled(val_records, groups)
    if val:
        model.eval()
        with autocast():
            v_pixels, v_labels = _prepare(val, processor, groups)
            acc = attribute_accuracy(model, heads, v_pixels.to(device), v_labels)
        model.train(was_training)
        result = {g: a for g, a in zip(groups, acc) if not math.isnan(a)}
        if log:
            log("vision_pretrain", steps, seconds=time.perf_counter() - t0,
                **{f"val_{g}_accuracy": a for g, a in result.items()})  # fmt: skip
        if echo:
            echo(
                f"vision pre-training done in {time.perf_counter() - t0:.0f} s; val instances "
                f"{len(v_labels.image)}: " + ", ".join(f"{g} {a:.2f}" for g, a in result.items())
            )
    return result

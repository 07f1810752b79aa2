"""Vision pre-training: a short first stage that teaches a from-scratch tower what the labelled things look like.

Real presets start from a pretrained CLIP / SigLIP tower. The tiny preset's ViT starts from random weights, and
the language-model losses of the main loop teach it slowly what a *shape* looks like (``benchmarks/attribute_probe.py``:
colour is read well after the whole run, shape barely above chance). This stage gives the tower a dense, direct
signal first, without the language model (so each step is a few times cheaper):

- every labelled instance of the training records (a ``labels`` entry with a mask or box: referring,
  segmentation, region-caption and co-segmentation targets) is read as *attribute words* by a vocabulary of word
  groups — ShapesWorld's ``shape`` / ``colour`` / ``size`` by default, or a JSON file ``{group: [words]}``.
  Only the phrase's leading words count (articles skipped, up to the first word in no group), so in
  "circle left of the blue object" only ``circle`` is the instance's — ``blue`` is another object's;
- every patch at least half as covered by an instance as that instance's best-covered patch takes the
  instance's class in each group (the best-covered instance wins a shared patch; others are ignored);
- the tower (with no instruction: :meth:`VistaModel.plain_features`) and one linear head per group are trained
  with per-patch cross-entropy (AdamW, warmup + cosine), then the heads are dropped.

At the end the stage reports, on the validation records' instances, how often the coverage-weighted mean of the
head's patch logits names each group's word — the same read-out as the attribute probe.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.record import Record
from ..model.grounding import instance_map, labelled_instances

ARTICLES = ("a", "an", "the")
IGNORE = -1


def load_vocab(spec: str) -> dict[str, tuple[str, ...]]:
    """Word groups by name: ``shapesworld`` (ShapesWorld's shape, colour and size words) or a path to a JSON
    file mapping each group to its list of words (lower case; a word in at most one group)."""
    if spec == "shapesworld":
        from ..data.shapesworld import COLOURS, SHAPES, SIZES

        return {"shape": tuple(SHAPES), "colour": tuple(COLOURS), "size": tuple(SIZES)}
    path = Path(spec)
    if not path.is_file():
        raise FileNotFoundError(f"vision_pretrain_vocab must be 'shapesworld' or a JSON file of word groups, "
                                f"got {spec!r} (no such file)")  # fmt: skip
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if (
        not isinstance(obj, dict)
        or not obj
        or not all(
            isinstance(v, list) and len(v) >= 2 and all(isinstance(w, str) and w.strip() for w in v)
            for v in obj.values()
        )
    ):
        raise ValueError(f"{path}: expected {{group: [word, word, ...]}} with at least two words per group")
    groups = {str(k): tuple(w.strip().lower() for w in v) for k, v in obj.items()}
    seen: dict[str, str] = {}
    for g, words in groups.items():
        for w in words:
            if w in seen and seen[w] != g:
                raise ValueError(f"{path}: the word {w!r} is in two groups ({seen[w]!r} and {g!r})")
            seen[w] = g
    return groups


def label_classes(label: str, groups: dict[str, tuple[str, ...]]) -> list[int]:
    """The class of ``label`` in each group (index into the group's words, :data:`IGNORE` when the phrase's
    leading words name none or two): "the large red star" → size large, colour red, shape star."""
    where = {w: (g, i) for g, (name, words) in enumerate(groups.items()) for i, w in enumerate(words)}
    out = [IGNORE] * len(groups)
    clash = [False] * len(groups)
    words = label.lower().replace(",", " ").split()
    while words and words[0] in ARTICLES:
        words = words[1:]
    for w in words:
        if w not in where:
            break
        g, i = where[w]
        clash[g] |= out[g] not in (IGNORE, i)
        out[g] = i
    return [IGNORE if c else k for k, c in zip(out, clash)]


@dataclass
class PatchLabels:
    """Per-patch targets of a batch of images, and the instances they came from.

    ``patches`` LongTensor [N_img, G, P] (class per group per patch, :data:`IGNORE` where unlabelled);
    ``weights`` FloatTensor [M, P] (each instance's patch coverage, summing to 1), ``image`` LongTensor [M] (its
    image in batch order) and ``classes`` LongTensor [M, G] (its class per group)."""

    patches: torch.Tensor
    weights: torch.Tensor
    image: torch.Tensor
    classes: torch.Tensor


def patch_labels(
    records: Sequence[Record], transforms: Sequence[Sequence], grid: int, groups: dict[str, tuple[str, ...]]
) -> PatchLabels:
    """:class:`PatchLabels` of the records' labelled instances on a ``grid`` × ``grid`` patch grid (images in
    record order, ``transforms`` per record per image as the processor returns them)."""
    n_img = sum(len(ts) for ts in transforms)
    patches = torch.full((n_img, len(groups), grid * grid), IGNORE, dtype=torch.long)
    best = np.zeros((n_img, grid * grid), np.float32)
    weights, image, classes = [], [], []
    offset = 0
    for record, ts in zip(records, transforms):
        for i, k, label in labelled_instances(record):
            cls = label_classes(label, groups)
            if all(c == IGNORE for c in cls) or not 0 <= k < len(ts):
                continue
            cover = cv2.resize(instance_map(record, i, ts[k]), (grid, grid), interpolation=cv2.INTER_AREA).reshape(-1)
            if cover.max() <= 0:
                continue
            j = offset + k
            take = (cover >= 0.5 * cover.max()) & (cover > best[j])
            best[j][take] = cover[take]
            patches[j][:, torch.from_numpy(take)] = torch.tensor(cls)[:, None]
            weights.append(cover / cover.sum())
            image.append(j)
            classes.append(cls)
        offset += len(ts)
    if not weights:
        return PatchLabels(patches, torch.zeros(0, grid * grid), torch.zeros(0, dtype=torch.long),
                           torch.zeros(0, len(groups), dtype=torch.long))  # fmt: skip
    return PatchLabels(patches, torch.from_numpy(np.stack(weights)).float(), torch.tensor(image),
                       torch.tensor(classes))  # fmt: skip


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


def labelled(records: Sequence[Record], groups: dict[str, tuple[str, ...]]) -> list[Record]:
    """The records with at least one instance whose label names a word of ``groups``."""
    return [
        r for r in records if any(c != IGNORE for _, _, x in labelled_instances(r) for c in label_classes(x, groups))
    ]


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
    groups = load_vocab(vocab)
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

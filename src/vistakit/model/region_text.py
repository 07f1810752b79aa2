"""Region–text alignment: an auxiliary loss that teaches a from-scratch vision tower what things look like.

The answers of a multi-task mixture teach the tower slowly which shapes it sees (a linear probe on the shipped
tiny tower's patch features, computed for a neutral instruction, reads an object's colour but its shape only at
chance), and an instruction-conditioned tower can pass a referring task by being *told* the shape. Records whose
targets pair regions with phrases (REC, RES, GREC, GRES, REG, AttCoSeg, co-segmentation, detection: ``boxes`` or
``masks`` with parallel ``labels``) give a direct signal instead, in the spirit of region–text pre-training
(RegionCLIP, GLIP): every labelled instance's region is pooled from the tower's features — computed *without*
the instruction, so the words cannot leak in — and must pick out its own phrase among the batch's phrases
(InfoNCE both ways; instances with the same phrase, up to case and a leading article, count as positives).

Shapes: :func:`region_text_targets` gives ``region_weights`` [M, P] (each instance's coverage of the patch grid,
rows summing to 1), ``region_image`` [M] (index into the batch's images), ``region_text_ids`` /
``region_text_mask`` [M, L] (the phrase's tokens) and ``region_group`` [M] (equal for equal phrases);
:class:`RegionTextHead` turns patch features ``[N_img, P, D]`` + phrase embeddings ``[M, L, H]`` into the loss.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.record import Record
from ..geometry import ImageTransform
from .grounding import instance_map, labelled_instances

REGION_KEYS = ("region_weights", "region_image", "region_text_ids", "region_text_mask", "region_group")
_ARTICLES = ("the ", "a ", "an ")


def phrase_key(text: str) -> str:
    """The phrase as compared for positives: lower case, single spaces, no leading article."""
    key = " ".join(text.lower().split())
    for a in _ARTICLES:
        if key.startswith(a):
            return key[len(a) :]
    return key


def region_text_targets(
    records: Sequence[Record],
    transforms: Sequence[Sequence[ImageTransform]],
    grid: int,
    tokenize: Callable[[str], list[int]],
    pad_id: int,
) -> dict[str, torch.Tensor] | None:
    """The labelled instances of the batch (see the module docstring), or ``None`` when it has fewer than two
    (nothing to contrast). An instance needs a ``labels`` entry, a mask or box, and at least one covered patch."""
    weights, image, texts, keys = [], [], [], []
    offset = 0
    for record, ts in zip(records, transforms):
        for i, k, label in labelled_instances(record):
            if not label.strip() or not 0 <= k < len(ts):
                continue
            cover = cv2.resize(instance_map(record, i, ts[k]), (grid, grid), interpolation=cv2.INTER_AREA)
            total = float(cover.sum())
            if total <= 0:
                continue
            weights.append((cover / total).reshape(-1).astype(np.float32))
            image.append(offset + k)
            texts.append(tokenize(label) or [pad_id])
            keys.append(phrase_key(label))
        offset += len(ts)
    if len(weights) < 2:
        return None
    length = max(len(x) for x in texts)
    ids = torch.full((len(texts), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(texts), length), dtype=torch.long)
    for j, x in enumerate(texts):
        ids[j, : len(x)] = torch.tensor(x)
        mask[j, : len(x)] = 1
    groups = {k: g for g, k in enumerate(dict.fromkeys(keys))}
    return {
        "region_weights": torch.from_numpy(np.stack(weights)),
        "region_image": torch.tensor(image, dtype=torch.long),
        "region_text_ids": ids,
        "region_text_mask": mask,
        "region_group": torch.tensor([groups[k] for k in keys], dtype=torch.long),
    }


class RegionTextHead(nn.Module):
    """Region features (coverage-weighted means of patch features) and phrase features (means of the phrase's
    token embeddings), each normalised and projected to ``dim``; the loss is the symmetric InfoNCE of their
    cosine similarities at a learned temperature (CLIP's initial 1 / 0.07)."""

    def __init__(self, vision_dim: int, lm_hidden: int, dim: int = 128) -> None:
        super().__init__()
        self.region = nn.Sequential(nn.LayerNorm(vision_dim), nn.Linear(vision_dim, dim))
        self.text = nn.Sequential(nn.LayerNorm(lm_hidden), nn.Linear(lm_hidden, dim))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def forward(
        self,
        features: torch.Tensor,
        region_weights: torch.Tensor,
        region_image: torch.Tensor,
        text_embeds: torch.Tensor,
        text_mask: torch.Tensor,
        region_group: torch.Tensor,
    ) -> torch.Tensor:
        m, p = region_weights.shape
        if features.ndim != 3 or features.shape[1] != p:
            raise ValueError(f"region_weights cover {p} patches but features are {list(features.shape)}")
        if region_image.shape != (m,) or text_mask.shape[0] != m or region_group.shape != (m,):
            raise ValueError(f"region targets disagree on the number of regions ({m}): region_image "
                             f"{list(region_image.shape)}, text {list(text_mask.shape)}, group {list(region_group.shape)}")  # fmt: skip
        pooled = torch.einsum("mp,mpd->md", region_weights.to(features.dtype), features[region_image])
        tm = text_mask.to(text_embeds.dtype)[..., None]
        words = (text_embeds * tm).sum(1) / tm.sum(1).clamp(min=1)
        r = F.normalize(self.region(pooled).float(), dim=-1)
        t = F.normalize(self.text(words).float(), dim=-1)
        logits = self.logit_scale.clamp(max=math.log(100)).exp() * r @ t.T
        same = (region_group[:, None] == region_group[None, :]).float()
        target = same / same.sum(1, keepdim=True)
        return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))

"""Attribute words of labelled instances as per-patch classes, and the tower's auxiliary attribute heads.

A vocabulary of word groups (ShapesWorld's ``shape`` / ``colour`` / ``size``, or a JSON file ``{group: [words]}``)
reads each labelled instance's phrase (a ``labels`` entry with a mask or box: referring, segmentation,
region-caption and co-segmentation targets) as one class per group. Only the phrase's leading words count
(articles skipped, up to the first word in no group), so in "circle left of the blue object" only ``circle`` is
the instance's — ``blue`` is another object's. Every patch at least half as covered by an instance as that
instance's best-covered patch takes the instance's class in each group (the best-covered instance wins a shared
patch; other patches are ignored).

Two users: the vision pre-training stage (:mod:`vistakit.train.vision_pretrain`, the tower alone before the main
loop) and :class:`AttributeHeads` (``vision.attribute_weight > 0``: the same per-patch cross-entropy on the
features the model computes for each training sample, beside the answer loss, for the whole run — on the groups
the sample's instruction does not name, :func:`attribute_targets`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.record import Record
from ..geometry import ImageTransform, Mask
from .grounding import instance_map, labelled_instances
from .word_groups import load_vocab  # noqa: F401  (re-exported: the heads' callers load groups here)

ARTICLES = ("a", "an", "the")
IGNORE = -1


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
    records: Sequence[Record],
    transforms: Sequence[Sequence],
    grid: int,
    groups: dict[str, tuple[str, ...]],
    scene: bool = False,
) -> PatchLabels:
    """:class:`PatchLabels` of the records' labelled instances on a ``grid`` × ``grid`` patch grid (images in
    record order, ``transforms`` per record per image as the processor returns them): their target instances, or
    with ``scene`` every instance of :func:`scene_instances` where a record has them."""
    n_img = sum(len(ts) for ts in transforms)
    patches = np.full((n_img, len(groups), grid * grid), IGNORE, np.int64)
    best = np.zeros((n_img, grid * grid), np.float32)
    weights, image, classes = [], [], []
    offset = 0
    for record, ts in zip(records, transforms):
        for k, label, region in _instances(record, scene):
            cls = label_classes(label, groups)
            if all(c == IGNORE for c in cls) or not 0 <= k < len(ts):
                continue
            cover = cv2.resize(region(ts[k]), (grid, grid), interpolation=cv2.INTER_AREA).reshape(-1)
            top = cover.max()
            if top <= 0:
                continue
            j = offset + k
            take = (cover >= 0.5 * top) & (cover > best[j])
            best[j][take] = cover[take]
            patches[j][:, take] = np.asarray(cls)[:, None]
            weights.append(cover / cover.sum())
            image.append(j)
            classes.append(cls)
        offset += len(ts)
    patches = torch.from_numpy(patches)
    if not weights:
        return PatchLabels(patches, torch.zeros(0, grid * grid), torch.zeros(0, dtype=torch.long),
                           torch.zeros(0, len(groups), dtype=torch.long))  # fmt: skip
    return PatchLabels(patches, torch.from_numpy(np.stack(weights)).float(), torch.tensor(image),
                       torch.tensor(classes))  # fmt: skip


def scene_instances(record: Record) -> list[tuple[int, str, dict]] | None:
    """``(image index, label, RLE)`` of every object the record's images show, from its ``meta.instances``
    annotation (one list per image of ``{"label": phrase, "mask": COCO RLE}``, as ShapesWorld writes it);
    ``None`` when the record has none. A malformed annotation raises ``ValueError`` naming the record."""
    ann = record.meta.get("instances")
    if ann is None:
        return None
    bad = ValueError(f"record {record.id}: meta.instances must be one list per image of "
                     f"{{\"label\": str, \"mask\": RLE}} objects, got {str(ann)[:80]!r}")  # fmt: skip
    if not isinstance(ann, list) or len(ann) != len(record.images):
        raise bad
    out = []
    for k, objs in enumerate(ann):
        if not isinstance(objs, list):
            raise bad
        for o in objs:
            if not (isinstance(o, dict) and isinstance(o.get("label"), str) and isinstance(o.get("mask"), dict)):
                raise bad
            out.append((k, o["label"], o["mask"]))
    return out


def _instances(record: Record, scene: bool) -> Iterator[tuple[int, str, Callable[[ImageTransform], np.ndarray]]]:
    """``(image index, label, canvas map of the region in a transform's model frame)`` per labelled instance."""
    found = scene_instances(record) if scene else None
    if found is None:
        for i, k, label in labelled_instances(record):
            yield k, label, lambda t, i=i: instance_map(record, i, t)
        return
    for k, label, rle in found:
        yield k, label, lambda t, rle=rle: t.mask_to_model(Mask.from_rle(rle)).array.astype(np.float32)


def labelled(records: Sequence[Record], groups: dict[str, tuple[str, ...]]) -> list[Record]:
    """The records with at least one instance whose label names a word of ``groups``."""
    return [
        r for r in records if any(c != IGNORE for _, _, x in labelled_instances(r) for c in label_classes(x, groups))
    ]


class AttributeHeads(nn.Module):
    """One linear classifier per word group over patch features; :meth:`forward` is the mean over groups of the
    per-patch cross-entropy against :func:`attribute_targets` made with the same ``groups`` (in their order;
    ``None`` when no patch has a class)."""

    def __init__(self, dim: int, groups: dict[str, Sequence[str]]) -> None:
        super().__init__()
        # keyed by group name: a config.json written with sorted keys reloads each head by its name
        self.heads = nn.ModuleDict({group: nn.Linear(dim, len(words)) for group, words in groups.items()})

    def forward(self, features: torch.Tensor, targets: torch.Tensor) -> torch.Tensor | None:
        """``features`` [N_img, P, D]; ``targets`` LongTensor [N_img, G, P] (:data:`IGNORE` where unlabelled)."""
        if targets.shape != (features.shape[0], len(self.heads), features.shape[1]):
            raise ValueError(f"attribute targets must be [N_img, groups, patches] = "
                             f"{[features.shape[0], len(self.heads), features.shape[1]]}, got {list(targets.shape)}")  # fmt: skip
        targets = targets.to(features.device)
        losses = [
            F.cross_entropy(head(features).flatten(0, 1).float(), targets[:, g].reshape(-1), ignore_index=IGNORE)
            for g, head in enumerate(self.heads.values())
            if bool((targets[:, g] != IGNORE).any())
        ]
        return torch.stack(losses).mean() if losses else None


def named_groups(prompt: str, groups: dict[str, Sequence[str]]) -> list[bool]:
    """Per group: whether ``prompt`` names any of its words (whole words, any case)."""
    text = prompt.lower()
    return [any(re.search(rf"\b{re.escape(w.lower())}\b", text) for w in words) for words in groups.values()]


def attribute_targets(
    records: Sequence[Record],
    transforms: Sequence[Sequence],
    grid: int,
    groups: dict[str, Sequence[str]],
    scene: bool = False,
) -> torch.Tensor:
    """LongTensor ``[N_img, G, grid²]``: :attr:`PatchLabels.patches` of a training batch (images in batch order),
    leak-free for features computed *with* the instruction: a group any of whose words the record's prompt names
    is ignored on that record's images ("Segment the large red circle" → no target at all; "Describe the region
    <region>" → all three), since an instruction-conditioned tower could copy a named word instead of seeing it.
    ``scene``: every object of the images (:func:`scene_instances`) where the records have them, else the target
    instances only."""
    patches = patch_labels(records, transforms, grid, groups, scene=scene).patches
    offset = 0
    for record, ts in zip(records, transforms):
        for g, named in enumerate(named_groups(record.prompt, groups)):
            if named:
                patches[offset : offset + len(ts), g] = IGNORE
        offset += len(ts)
    return patches

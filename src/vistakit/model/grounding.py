"""Grounding: which patches of each image hold what the instruction names.

The instruction-guided tokenizer (with ``image_tokenizer.grounding``) scores every patch of an image for its
sample's instruction — a relevance logit per patch — and adds the scores to its queries' cross-attention, so the
queries gather the named object's patches. Those scores get a direct, dense training signal here: for samples of
a task whose targets are exactly the regions the instruction names (``Task.grounds_record``: REC, RES, GREC, GRES,
AttCoSeg, detection, and VQA records that list their question's referents), the target is the fraction of each patch the target masks (or boxes) cover, on the model's
canvas. A dense per-patch target is learned far faster by a from-scratch vision tower than a box through the
language model (``research/localization_probe.py``).

With ``image_tokenizer.where_tokens`` the map is also read out as a box (:class:`SoftBox`: the weighted mean and
spread of the patch centres, weights a sharpened sigmoid of the logits — exact for a uniform rectangle of patches)
and handed to the language model as four extra image tokens in its own location vocabulary
(:func:`location_embeddings`): the answer's ``<box>`` can then be copied rather than decoded from the query
tokens, which a from-scratch LM learns slowly (``research/localization_probe.py --mode oracle``).

With ``image_tokenizer.referents`` K > 1 the head draws K maps, one per thing the instruction names, in order
(:func:`referent_instances`), each read out as its own box.

Shapes: :class:`RelevanceHead` maps patch context ``[N, P, D]`` + instruction ``[N, L, H]`` → logits ``[N, K, P]``;
:func:`grounding_targets` gives FloatTensor ``[N_img, K, P]`` in [0, 1], rows of -1 for images whose sample
carries no grounding (they are left out of the loss).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.record import Record
from ..geometry import Boxes, ImageTransform, Mask
from ..tasks import get_task
from .vision import Attention, Mlp, sincos_1d

NO_TARGET = -1.0


class RelevanceHead(nn.Module):
    """``referents`` learned queries read the instruction (its token embeddings + word positions) into one vector
    ``g_k`` each — query k learns to pick the k-th thing it names; the relevance logit of patch ``p`` for referent
    ``k`` is ``<key(patch_p), g_k> / sqrt(dim)``: logits ``[N, K, P]``. With ``relations`` a
    :class:`RelationTerm` adds, to every map, a score of where each patch lies relative to an anchor the
    instruction names; :meth:`forward` returns ``(logits, None)``, or with ``relations`` ``(logits, (anchor
    logits [N, P], relation logits [N, R + 1]))``."""

    def __init__(
        self, dim: int, lm_hidden: int, heads: int, referents: int = 1, relations: bool = False, relation_mode: str = "add"
    ) -> None:
        super().__init__()
        self.query = nn.Parameter(torch.randn(1, referents, dim) * 0.02)
        self.instruction_proj = nn.Linear(lm_hidden, dim)
        self.norm_instruction = nn.LayerNorm(dim)
        self.pool = Attention(dim, heads)
        self.mlp = Mlp(dim, 2 * dim)
        self.norm_patch = nn.LayerNorm(dim)
        self.key = nn.Linear(dim, dim)
        self.relation = RelationTerm(dim, mode=relation_mode) if relations else None

    def forward(
        self, patches: torch.Tensor, instruction: torch.Tensor, instruction_mask: torch.Tensor
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
        n, length, _ = instruction.shape
        words = self.instruction_proj(instruction)
        words = self.norm_instruction(words + sincos_1d(length, words.shape[-1]).to(words))
        queries = self.query if self.relation is None else torch.cat([self.query, self.relation.query], 1)
        g = self.pool(queries.expand(n, -1, -1).to(words.dtype), words, instruction_mask.bool())
        g = self.mlp(g)  # [N, K (+ 2), D]
        k = self.query.shape[1]
        patches = self.norm_patch(patches)
        keys = self.key(patches)
        logits = (g[:, :k] @ keys.transpose(1, 2)) / math.sqrt(keys.shape[-1])  # [N, K, P]
        if self.relation is None:
            return logits, None
        term, anchor, which = self.relation(patches, g[:, k:])
        return logits + term[:, None].to(logits.dtype), (anchor, which)


class RelationTerm(nn.Module):
    """Two-hop grounding for "the star left of the blue square": one learned query (read through the
    :class:`RelevanceHead`'s own pooling attention and MLP, beside its referent queries) gives ``g_a`` (*what* the
    anchor is) and scores every patch for it (anchor logits ``<key_a(patch), g_a> / sqrt(dim)``,
    trained on the anchor's region where a record names it, :func:`anchor_targets`); the anchor's centre ``c`` is
    the mean patch centre under ``sigmoid(anchor logits)``. A second query reads ``g_r`` (*which way*) into weights
    ``w = softmax(which(g_r))`` over ``R`` learned unit directions ``u_r`` (initialised to left, right, up, down of
    the image) and one "no relation" slot, and patch ``p`` scores
    ``gain · Σ_r w_r tanh(<u_r, centre_p − c> / tau)`` — positive on the side the instruction names, negative on
    the other (``mode="add"``), or only the negative part, ``gain · min(0, Σ_r …)`` (``mode="suppress"``): patches on
    the named side keep their score and only those on the other side are pushed down, so the term cannot pull the
    map off the object towards the far side. The patch features alone cannot tell two identical stars apart; their
    offsets from the anchor can. Records that name their relation (``meta["relation"]``: one of :attr:`NAMES`, or null for none) train ``which``
    directly (:func:`relation_targets`). ``which`` starts at zero, so the weights start uniform and opposite
    directions cancel: switching the term on leaves a trained head unchanged. Shapes: patches ``[N, P, D]``
    (normalised), the two queries read ``[N, 2, D]`` → (term ``[N, P]``, anchor logits ``[N, P]``, relation logits
    ``[N, R + 1]``)."""

    NAMES = ("left of", "right of", "above", "below")  # the directions' initial meanings, in order
    DIRECTIONS = ((-1.0, 0.0), (1.0, 0.0), (0.0, -1.0), (0.0, 1.0))  # their unit vectors (image y points down)

    MODES = ("add", "suppress")

    def __init__(self, dim: int, tau: float = 0.05, gain: float = 4.0, mode: str = "add") -> None:
        super().__init__()
        if mode not in self.MODES:
            raise ValueError(f"relation mode must be one of {', '.join(self.MODES)}, got {mode!r}")
        self.mode = mode
        self.query = nn.Parameter(torch.randn(1, 2, dim) * 0.02)  # 0: the anchor, 1: the relation
        self.anchor_key = nn.Linear(dim, dim)
        self.which = nn.Linear(dim, len(self.DIRECTIONS) + 1)  # the last slot: no relation
        nn.init.zeros_(self.which.weight)
        nn.init.zeros_(self.which.bias)
        self.direction = nn.Parameter(torch.tensor(self.DIRECTIONS))  # [R, 2]
        self.log_inv_tau = nn.Parameter(torch.tensor(-math.log(tau)))
        self.gain = nn.Parameter(torch.tensor(float(gain)))

    def forward(self, patches: torch.Tensor, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n, p, d = patches.shape
        g_anchor, g_rel = q[:, 0], q[:, 1]  # [N, D] each
        anchor = (self.anchor_key(patches) @ g_anchor[:, :, None])[..., 0] / math.sqrt(d)  # [N, P]
        centres = patch_centres(p, patches.device)  # [P, 2]
        a = torch.sigmoid(anchor.float()) + 1e-6
        centre = (a / a.sum(1, keepdim=True)) @ centres  # [N, 2]
        delta = centres[None] - centre[:, None]  # [N, P, 2], canvas units
        u = F.normalize(self.direction.float(), dim=1)
        side = torch.tanh((delta @ u.T) * self.log_inv_tau.float().exp())  # [N, P, R]
        which = self.which(g_rel).float()  # [N, R + 1]
        w = which.softmax(-1)[:, :-1]  # [N, R]
        score = (side @ w[:, :, None])[..., 0]  # [N, P] in [-1, 1]
        term = self.gain.float() * (score.clamp(max=0.0) if self.mode == "suppress" else score)
        return term.to(patches.dtype), anchor, which


def patch_centres(p: int, device: torch.device | None = None) -> torch.Tensor:
    """``[P, 2]`` (x, y) centres in [0, 1] of a square grid of ``P`` patches, row-major (x varies fastest)."""
    grid = math.isqrt(p)
    if grid * grid != p:
        raise ValueError(f"relevance must cover a square grid of patches, got {p} patches")
    c = (torch.arange(grid, device=device, dtype=torch.float32) + 0.5) / grid
    return torch.stack([c.repeat(grid), c.repeat_interleave(grid)], 1)


class SoftBox(nn.Module):
    """Relevance logits ``[N, P]`` (``P = grid²``, row-major; or ``[N, K, P]``) → a box ``[N, 4]`` (``[N, K, 4]``;
    x1, y1, x2, y2 in [0, 1] of the canvas): patch weights ``sigmoid(sharpness · (logit − offset))`` (both learned), then along x and y the
    weighted mean of the patch centres ± ``sqrt(3 var + (patch / 2)²)`` — exactly the extent of a uniformly
    weighted run of whole patches (a run of n centres spaced s apart has variance s²(n² − 1) / 12)."""

    def __init__(self, sharpness: float = 8.0, offset: float = 0.5) -> None:
        super().__init__()
        self.sharpness = nn.Parameter(torch.tensor(float(sharpness)))
        self.offset = nn.Parameter(torch.tensor(float(offset)))

    def forward(self, relevance: torch.Tensor) -> torch.Tensor:
        if relevance.ndim == 3:
            n, k, p = relevance.shape
            return self(relevance.reshape(n * k, p)).view(n, k, 4)
        n, p = relevance.shape
        grid = math.isqrt(p)
        if grid * grid != p:
            raise ValueError(f"relevance must cover a square grid of patches, got {p} patches")
        r = relevance.float()
        w = torch.sigmoid(self.sharpness * (r - self.offset)) + 1e-6
        w = w / w.sum(1, keepdim=True)
        centres = (torch.arange(grid, device=r.device, dtype=r.dtype) + 0.5) / grid
        xs, ys = centres.repeat(grid), centres.repeat_interleave(grid)  # row-major: x varies fastest
        out = []
        for c in (xs, ys):
            mean = (w * c).sum(1)
            half = (3 * (w * (c - mean[:, None]) ** 2).sum(1) + (0.5 / grid) ** 2).sqrt()
            out.append((mean - half, mean + half))
        (x1, x2), (y1, y2) = out
        return torch.stack([x1, y1, x2, y2], 1).clamp(0.0, 1.0)


class ComparisonToken(nn.Module):
    """Two boxes ``[N, 4]`` each (x1, y1, x2, y2 in [0, 1]: the named object's and the anchor's) → one LM token
    ``[N, H]``: their offset as 5 numbers — centre differences along x and y (×4), log ratios of width, height and
    area (a's over b's) — through an MLP whose output layer starts at zero (a no-op until trained)."""

    FEATURES = 5

    def __init__(self, lm_hidden: int, hidden: int = 32, relational: bool = False) -> None:
        super().__init__()
        self.relational = relational
        width = self.FEATURES + int(relational)
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, lm_hidden))
        nn.init.zeros_(self.mlp[2].weight)
        nn.init.zeros_(self.mlp[2].bias)

    @staticmethod
    def features(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``[N, 5]``: dx, dy of the centres (×4), log(w_a / w_b), log(h_a / h_b), log(area_a / area_b)."""
        a, b = a.float(), b.float()
        eps = 1e-3
        wa, ha = (a[:, 2] - a[:, 0]).clamp(min=eps), (a[:, 3] - a[:, 1]).clamp(min=eps)
        wb, hb = (b[:, 2] - b[:, 0]).clamp(min=eps), (b[:, 3] - b[:, 1]).clamp(min=eps)
        dx = (a[:, 0] + a[:, 2] - b[:, 0] - b[:, 2]) / 2
        dy = (a[:, 1] + a[:, 3] - b[:, 1] - b[:, 3]) / 2
        rw, rh = (wa / wb).log(), (ha / hb).log()
        return torch.stack([4 * dx, 4 * dy, rw, rh, rw + rh], 1)

    def forward(
        self, a: torch.Tensor, b: torch.Tensor, which: torch.Tensor | None = None, directions: torch.Tensor | None = None
    ) -> torch.Tensor:
        """With ``relational``, ``which`` (the relation term's logits ``[N, R + 1]``) and ``directions`` (its unit
        vectors ``[R, 2]``) add a sixth feature: the centres' offset along the relation the instruction names, the
        directions weighted by ``softmax(which)`` (positive: a lies that way of b; 0 for "none")."""
        if a.shape != b.shape or a.ndim != 2 or a.shape[1] != 4:
            raise ValueError(f"ComparisonToken compares two [N, 4] boxes, got {list(a.shape)} and {list(b.shape)}")
        x = self.features(a, b)
        if self.relational:
            if which is None or directions is None:
                raise ValueError("a relational ComparisonToken needs the relation term's which logits and directions")
            w = which.float().softmax(-1)[:, :-1]  # [N, R]
            along = x[:, :2] @ F.normalize(directions.float(), dim=1).T  # [N, R]
            x = torch.cat([x, (w * along).sum(1, keepdim=True)], 1)
        return self.mlp(x.to(self.mlp[0].weight.dtype))


def location_embeddings(values: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Normalised coordinates ``[N, K]`` in [0, 1] → ``[N, K, H]``: each the linear interpolation of the two
    ``<loc_k>`` embedding rows (``rows`` ``[bins, H]``, in bin order) whose bin centres ``(k + 0.5) / bins``
    bracket it — exactly row k at a bin centre, differentiable in the value."""
    bins = rows.shape[0]
    t = (values.float() * bins - 0.5).clamp(0, bins - 1)
    lo = t.floor().long().clamp(max=bins - 1)
    hi = (lo + 1).clamp(max=bins - 1)
    frac = (t - lo.float())[..., None].to(rows.dtype)
    return rows[lo] * (1 - frac) + rows[hi] * frac


def instance_map(record: Record, index: int, transform: ImageTransform) -> np.ndarray:
    """Target instance ``index`` of the record (its mask, else its box) as a float32 canvas × canvas map in the
    model frame of ``transform``'s image (1 inside)."""
    t = record.targets
    if t.masks:
        return transform.mask_to_model(Mask.from_rle(t.masks[index])).array.astype(np.float32)
    out = np.zeros((transform.canvas, transform.canvas), np.float32)
    box = Boxes([t.boxes[index]], transform.original_space).clip()
    x1, y1, x2, y2 = transform.to_model(box, normalized=False).xyxy()[0]
    out[int(round(y1)) : int(round(y2)), int(round(x1)) : int(round(x2))] = 1.0
    return out


def labelled_instances(record: Record) -> Iterator[tuple[int, int, str]]:
    """``(instance index, image index, label)`` of each target instance (mask, else box) that has a ``labels``
    entry; the image is ``targets.image_ids[i]`` on a multi-image record, else 0 (callers check its range)."""
    t = record.targets
    instances = t.masks if t.masks else (t.boxes or [])
    owners = t.image_ids if t.image_ids is not None and len(record.images) > 1 else None
    for i, label in enumerate((t.labels or [])[: len(instances)]):
        yield i, (owners[i] if owners is not None and i < len(owners) else 0), label


def region_map(
    record: Record, image: int, transform: ImageTransform, instances: Sequence[int] | None = None
) -> np.ndarray:
    """The union of the record's target masks (else boxes) on image ``image`` — of those listed in ``instances``
    when given — as a float32 canvas × canvas map in the model frame (1 inside)."""
    t = record.targets
    owners = t.image_ids if t.image_ids is not None and len(record.images) > 1 else None
    out = np.zeros((transform.canvas, transform.canvas), np.float32)
    for i in range(len(t.masks if t.masks else (t.boxes or []))):
        if owners is not None and (i >= len(owners) or owners[i] != image):
            continue
        if instances is not None and i not in instances:
            continue
        out = np.maximum(out, instance_map(record, i, transform))
    return out


def referent_instances(record: Record, referents: int) -> list[list[int] | None]:
    """For each of ``referents`` relevance maps, the target instances it should cover (``None``: all of them).
    For a task that orders its referents (``Task.orders_referents``) map k gets the instances labelled with the
    k-th distinct label, in order of first appearance; maps past the last phrase repeat it. Otherwise, and for
    records without labels, every map covers every instance."""
    labels = record.targets.labels
    if referents == 1 or not labels or not get_task(record.task).orders_referents:
        return [None] * referents
    phrases = list(dict.fromkeys(labels))
    return [[i for i, lab in enumerate(labels) if lab == phrases[min(k, len(phrases) - 1)]] for k in range(referents)]


def grounding_targets(
    records: Sequence[Record], transforms: Sequence[Sequence[ImageTransform]], grid: int, referents: int = 1
) -> torch.Tensor:
    """FloatTensor ``[N_img, K, grid²]`` (``K = referents``): per image (in batch order) and relevance map, the
    fraction of each patch (row-major) covered by what the sample's instruction names (the map's referent,
    :func:`referent_instances`); ``NO_TARGET`` rows for samples of tasks that do not ground. A single-image record
    of any task may instead name that region itself in ``meta["grounding_mask"]`` (an RLE in original pixels, or
    null for none of the image: e.g. ShapesWorld's grounded position questions); every map then gets it."""
    rows = []
    for record, ts in zip(records, transforms):
        if len(ts) == 1 and "grounding_mask" in record.meta:
            m = meta_mask_map(record, "grounding_mask", ts[0], grid)
            rows.append(np.repeat(m[None], referents, 0))
            continue
        grounds = get_task(record.task).grounds_record(record)
        groups = referent_instances(record, referents) if grounds else []
        for k, t in enumerate(ts):
            if not grounds:
                rows.append(np.full((referents, grid * grid), NO_TARGET, np.float32))
                continue
            maps = {}
            for g in groups:
                key = None if g is None else tuple(g)
                if key not in maps:
                    maps[key] = cv2.resize(region_map(record, k, t, g), (grid, grid), interpolation=cv2.INTER_AREA)
            rows.append(np.stack([maps[None if g is None else tuple(g)].reshape(-1) for g in groups]))
    return torch.from_numpy(np.stack(rows)) if rows else torch.zeros(0, referents, grid * grid)


def meta_mask_map(record: Record, key: str, transform: ImageTransform, grid: int) -> np.ndarray:
    """``record.meta[key]`` (a COCO RLE in original pixels; null: an empty region) as the covered fraction of each
    patch of ``transform``'s canvas, ``[grid²]`` float32; a malformed value is a clear error naming the record."""
    rle = record.meta[key]
    if rle is None:
        return np.zeros(grid * grid, np.float32)
    try:
        mask = Mask.from_rle(rle)
    except Exception as e:  # noqa: BLE001 - name the record, whatever the RLE decoder raised
        raise ValueError(f"record {record.id!r}: meta.{key} must be a COCO RLE {{'size': [h, w], 'counts': ...}}"
                         f"{' or null' if key == 'grounding_mask' else ''}, got {rle!r:.80} ({e})") from None  # fmt: skip
    m = transform.mask_to_model(mask).array.astype(np.float32)
    return cv2.resize(m, (grid, grid), interpolation=cv2.INTER_AREA).reshape(-1)


def anchor_targets(records: Sequence[Record], transforms: Sequence[Sequence[ImageTransform]], grid: int) -> torch.Tensor:
    """FloatTensor ``[N_img, grid²]``: per image (in batch order) the fraction of each patch covered by the anchor
    of its record's spatial relation (``meta["anchor_mask"]``, an RLE in original pixels: ShapesWorld's relational
    REC / RES records carry it), ``NO_TARGET`` rows for images without one (multi-image records never have one)."""
    rows = []
    for record, ts in zip(records, transforms):
        has = len(ts) == 1 and record.meta.get("anchor_mask") is not None
        for t in ts:
            rows.append(meta_mask_map(record, "anchor_mask", t, grid) if has else np.full(grid * grid, NO_TARGET, np.float32))
    return torch.from_numpy(np.stack(rows)) if rows else torch.zeros(0, grid * grid)


def relation_targets(records: Sequence[Record], images_per_record: Sequence[int]) -> torch.Tensor:
    """LongTensor ``[N_img]``: per image (in batch order) the index in :attr:`RelationTerm.NAMES` of the relation its
    record's instruction uses (``meta["relation"]``), ``len(NAMES)`` where the record says it uses none (null),
    and ``-100`` (ignored) where it does not say, names another relation, or has several images."""
    none = len(RelationTerm.NAMES)
    out = []
    for record, count in zip(records, images_per_record):
        label = -100
        if count == 1 and "relation" in record.meta:
            rel = record.meta["relation"]
            label = none if rel is None else RelationTerm.NAMES.index(rel) if rel in RelationTerm.NAMES else -100
        out.extend([label] * count)
    return torch.tensor(out, dtype=torch.long)


def relation_loss(which: torch.Tensor, targets: torch.Tensor) -> torch.Tensor | None:
    """Cross-entropy of relation logits ``[N_img, R + 1]`` against :func:`relation_targets` (``-100`` skipped);
    ``None`` when no image has a label."""
    if targets.shape != which.shape[:1]:
        raise ValueError(f"relation targets must be [N_img] = {list(which.shape[:1])}, got {list(targets.shape)}")
    if not bool((targets >= 0).any()):
        return None
    return F.cross_entropy(which.float(), targets, ignore_index=-100)


def anchor_loss(anchor: torch.Tensor, targets: torch.Tensor) -> torch.Tensor | None:
    """Binary cross-entropy of anchor logits ``[N_img, P]`` against :func:`anchor_targets` (``NO_TARGET`` rows
    skipped); ``None`` when no image has an anchor."""
    if anchor.shape != targets.shape:
        raise ValueError(f"anchor targets must be [N_img, P] = {list(anchor.shape)}, got {list(targets.shape)}")
    valid = targets[:, 0] >= 0
    if not bool(valid.any()):
        return None
    return F.binary_cross_entropy_with_logits(anchor[valid].float(), targets[valid].float())


def grounding_loss(relevance: torch.Tensor, targets: torch.Tensor) -> torch.Tensor | None:
    """Binary cross-entropy of relevance logits ``[N_img, K, P]`` against :func:`grounding_targets` (images of
    ``NO_TARGET`` rows skipped); ``None`` when no image has a target."""
    if relevance.shape != targets.shape:
        raise ValueError(f"grounding targets must be [N_img, K, P] = {list(relevance.shape)}, got {list(targets.shape)}")
    valid = targets[:, 0, 0] >= 0
    if not bool(valid.any()):
        return None
    return F.binary_cross_entropy_with_logits(relevance[valid].float(), targets[valid].float())

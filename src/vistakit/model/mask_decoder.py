"""The super-link mask decoder (VisionLLM v2): a mask painted from the LM's hidden state at its ``<mask>`` token.

The language model writes every mask as a point sequence (``<mask><poly><loc_k>…</poly></mask>``, VistaLLM's
GAAS polygons). With ``mask_decoder.enabled`` the ``<mask>`` opener also acts as a routing token: its last
hidden state ``h`` (which has read the image tokens, the instruction and the answer so far, but none of the
mask's own points — so teacher forcing in training shows it nothing the model will not have when generating)
conditions a small convolutional head that paints the mask on the canvas:

    pixels [N, 3, S, S] ─ conv ─┐
    patch features [N, P, D] ─ 1×1 conv, upsample ─┼─ sum → x [N, C, S, S]
    relevance map [N, K, R] ─ max over K, upsample ─┘
    x[image of the mask] · (1 + γ(h)) + β(h) ─ conv ─ · w(h) → mask logits [M, S, S]

(FiLM by ``h``, then a per-mask 1×1 read-out whose weights ``w(h)`` come from ``h``, as SAM's mask tokens.)
It trains with BCE + Dice against the target polygon rasterised on the canvas (:func:`mask_targets`,
:func:`mask_loss`) and serves masks as :class:`~vistakit.geometry.SoftMask` — the answer text keeps the LM's
polygon, so the two read-outs can be scored on the same answers (``mask_decoder.readout``).

Shapes: :class:`MaskDecoder` maps pixels ``[N, 3, S, S]``, features ``[N, P, D]``, relevance ``[N, K, R]`` or
``None``, ``image_index`` LongTensor ``[M]`` into ``0..N-1`` and ``hidden`` ``[M, H]`` → logits ``[M, S, S]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..geometry import Frame, Polygons, SequenceGrammar, Space
from ..geometry.sequence import Span
from .text_tokenizer import IGNORE_INDEX


class MaskDecoder(nn.Module):
    """See the module docstring. ``lm_hidden``: the LM width; ``vision_dim``: the tower's feature width;
    ``dim``: the head's channels."""

    def __init__(self, lm_hidden: int, vision_dim: int, dim: int = 32) -> None:
        super().__init__()
        self.dim = dim
        self.pixels = nn.Sequential(nn.Conv2d(3, dim, 3, padding=1), nn.GELU(), nn.Conv2d(dim, dim, 3, padding=1))
        self.patches = nn.Conv2d(vision_dim, dim, 1)
        self.relevance = nn.Conv2d(1, dim, 1)
        self.norm = nn.LayerNorm(lm_hidden)
        self.film = nn.Linear(lm_hidden, 2 * dim)
        self.refine = nn.Sequential(nn.GELU(), nn.Conv2d(dim, dim, 3, padding=1), nn.GELU(),
                                    nn.Conv2d(dim, dim, 3, padding=1), nn.GELU())  # fmt: skip
        self.readout = nn.Linear(lm_hidden, dim + 1)  # per-mask 1×1 weights and bias
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def image_maps(
        self, pixel_values: torch.Tensor, features: torch.Tensor, relevance: torch.Tensor | None
    ) -> torch.Tensor:
        """The per-image map every mask of that image starts from: ``[N, C, S, S]``."""
        n, p, d = features.shape
        size = pixel_values.shape[-1]
        g = math.isqrt(p)
        if g * g != p:
            raise ValueError(f"the mask decoder needs a square patch grid, got {p} patches")
        x = self.pixels(pixel_values.to(self.patches.weight.dtype))
        grid = self.patches(features.transpose(1, 2).reshape(n, d, g, g).to(x.dtype))
        x = x + F.interpolate(grid, size=(size, size), mode="bilinear", align_corners=False)
        if relevance is not None:
            r = relevance.amax(1)  # [N, R]: any referent's map
            rg = math.isqrt(r.shape[-1])
            r = F.interpolate(r.reshape(n, 1, rg, rg).to(x.dtype), size=(size, size), mode="bilinear",
                              align_corners=False)  # fmt: skip
            x = x + self.relevance(r)
        return x

    def forward(
        self,
        pixel_values: torch.Tensor,
        features: torch.Tensor,
        relevance: torch.Tensor | None,
        image_index: torch.Tensor,
        hidden: torch.Tensor,
    ) -> torch.Tensor:
        if image_index.shape != hidden.shape[:1]:
            raise ValueError(f"image_index must be [M] = [{hidden.shape[0]}] (one image per mask), "
                             f"got {list(image_index.shape)}")  # fmt: skip
        x = self.image_maps(pixel_values, features, relevance)[image_index]  # [M, C, S, S]
        h = self.norm(hidden.to(x.dtype))
        gamma, beta = self.film(h).chunk(2, -1)
        x = self.refine(x * (1 + gamma[..., None, None]) + beta[..., None, None])
        w = self.readout(h)
        return torch.einsum("mchw,mc->mhw", x, w[:, :-1]) / math.sqrt(self.dim) + w[:, -1, None, None]


def mask_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean per-pixel binary cross-entropy + mean Dice loss of logits ``[M, S, S]`` against targets in {0, 1}."""
    logits, targets = logits.float(), targets.to(logits.device).float()
    bce = F.binary_cross_entropy_with_logits(logits, targets)
    p = logits.sigmoid().flatten(1)
    t = targets.flatten(1)
    dice = 1 - (2 * (p * t).sum(1) + 1) / (p.sum(1) + t.sum(1) + 1)
    return bce + dice.mean()


def painted_kinds(boxes: bool) -> tuple[str, ...]:
    """The span kinds a decoder paints: masks, and boxes too with ``mask_decoder.boxes``."""
    return ("mask", "box") if boxes else ("mask",)


def span_target(span: Span, canvas: int) -> np.ndarray:
    """A span's region filled on the canvas, ``canvas × canvas`` bool: a mask's polygons, a box's rectangle."""
    space = Space(Frame.MODEL, (canvas, canvas), normalized=True)
    if span.kind == "mask":
        return Polygons(span.geometry.rings, space).rasterize().array
    x0, y0, x1, y1 = (np.asarray(span.geometry.xyxy(), np.float64)[0] * canvas).tolist()
    out = np.zeros((canvas, canvas), bool)
    out[max(0, round(y0)) : max(0, round(y1)), max(0, round(x0)) : max(0, round(x1))] = True
    return out


def _plan(ids: Sequence[int], spans: Sequence[Span], opener: dict[str, int], n_images: int,
          kinds: tuple[str, ...]) -> list[tuple[int, int, Span]] | None:
    """``(offset of the span's opening token in ids, its image, the span)`` for every span of ``kinds``, in order;
    ``None`` when the opening tokens of some kind and its spans do not match one to one, or a span names a
    missing image."""
    out = []
    for kind in kinds:
        at = [j for j, t in enumerate(ids) if t == opener[kind]]
        of_kind = [s for s in spans if s.kind == kind]
        if len(at) != len(of_kind) or any((s.image or 0) >= n_images for s in of_kind):
            return None
        out += [(j, s.image or 0, s) for j, s in zip(at, of_kind)]
    return sorted(out, key=lambda t: t[0])


def mask_targets(
    answers: Sequence[str],
    grammar: SequenceGrammar,
    input_ids: torch.Tensor,
    labels: torch.Tensor,
    opener: dict[str, int],
    image_to_sample: torch.Tensor,
    canvas: int,
    kinds: tuple[str, ...] = ("mask",),
) -> dict[str, torch.Tensor] | None:
    """The decoder's training targets for a batch: for every span of ``kinds`` (``mask``, ``box``) of every
    answer, ``mask_positions`` LongTensor ``[M, 2]`` (row, column of its opening token — ``opener[kind]``, the id of
    ``<mask>`` / ``<box>`` — in ``input_ids``), ``mask_images`` LongTensor ``[M]`` (the batch image it names: the
    sample's first image + its ``<img_k>``) and ``mask_targets`` FloatTensor ``[M, canvas, canvas]`` (its region
    filled on the canvas, :func:`span_target`). Only opening tokens inside the answer (labels != -100) count; an
    answer whose opening tokens do not match its spans one to one (cut off by ``max_length`` before one) or
    that names a missing image gives no targets. ``None`` when the batch has none at all."""
    counts = torch.bincount(image_to_sample, minlength=len(answers)).tolist()
    first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int)
    positions, images, targets = [], [], []
    for b, answer in enumerate(answers):
        if not any(f"<{k}>" in answer for k in kinds):
            continue
        ids = torch.where(labels[b] != IGNORE_INDEX, input_ids[b], -1).tolist()
        plan = _plan(ids, grammar.decode(answer).spans, opener, counts[b], kinds)
        for t, k, span in plan or []:
            positions.append((b, t))
            images.append(int(first[b]) + k)
            targets.append(span_target(span, canvas))
    if not positions:
        return None
    return {
        "mask_positions": torch.tensor(positions, dtype=torch.long),
        "mask_images": torch.tensor(images, dtype=torch.long),
        "mask_targets": torch.from_numpy(np.stack(targets)).float(),
    }


def answer_plans(
    answer_ids: Sequence[Sequence[int]], opener: dict[str, int], texts: Sequence[str], grammar: SequenceGrammar,
    images_per_sample: Sequence[int], kinds: tuple[str, ...],
) -> list[list[tuple[int, int, str]] | None]:
    """For each generated answer, ``(offset of the span's opening token in the answer, the image it names, its
    kind)`` for every mask / box span in order (both kinds: the parser replaces them in that order), or ``None``
    when its opening tokens and spans do not match one to one (an answer cut off inside a span) or a span names
    a missing image — that answer keeps what it wrote. Spans of a kind not in ``kinds`` are listed but not painted
    (the caller passes ``None`` for them)."""
    out: list[list[tuple[int, int, str]] | None] = []
    for ids, text, n in zip(answer_ids, texts, images_per_sample):
        plan = _plan(list(ids), grammar.decode(text).spans, opener, n, ("mask", "box"))
        out.append(None if plan is None or not any(s.kind in kinds for _, _, s in plan)
                   else [(j, k, s.kind) for j, k, s in plan])  # fmt: skip
    return out

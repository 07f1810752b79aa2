"""Sequence packing: run a padded batch through the LM without computing on its padding.

Multi-task batches are ragged (a 4-image co-segmentation answer is ten times a VQA one), so most of a padded
``[B, T]`` batch can be padding. :func:`plan_packing` places the real tokens of the B samples into R <= B rows of
the same width T (first-fit, longest first); a block-diagonal causal mask keeps samples from attending to each
other and each token keeps its own position id, so the LM computes exactly what it would on the padded batch.

Masks are *additive* float masks ``[R, 1, T, T]`` (0: attend, dtype-min: blocked), the 4-D form that
transformers passes to attention unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Packing:
    """Where each packed slot comes from: ``index`` LongTensor [R, T] into the flat list of real tokens
    (row-major over the padded batch; ``N`` = a padding slot), ``segment`` [R, T] the sample of each slot (-1:
    padding)."""

    index: torch.Tensor
    segment: torch.Tensor
    num_tokens: int

    @property
    def rows(self) -> int:
        return self.index.shape[0]

    def gather(self, flat: torch.Tensor) -> torch.Tensor:
        """Flat per-token values ``[N, ...]`` → packed ``[R, T, ...]`` (padding slots: zeros)."""
        pad = flat.new_zeros((1, *flat.shape[1:]))
        return torch.cat([flat, pad])[self.index]

    def scatter(self, packed: torch.Tensor) -> torch.Tensor:
        """Packed ``[R, T, ...]`` → flat ``[N, ...]`` in the padded batch's row-major token order."""
        flat = packed.reshape(-1, *packed.shape[2:])
        keep = self.index.reshape(-1) < self.num_tokens
        out = flat.new_empty((self.num_tokens, *packed.shape[2:]))
        out[self.index.reshape(-1)[keep]] = flat[keep]
        return out

    def positions(self, attention_mask: torch.Tensor) -> torch.Tensor:
        """LongTensor [R, T]: each packed slot's position in the padded batch flattened row-major (``b * T + t``),
        ``B * T`` for a padding slot — the index that moves ``[B * T (+ 1 zero row), ...]`` values into the packed
        layout with one ``index_select`` (cheaper on a CPU than boolean masks and their backward)."""
        real = attention_mask.reshape(-1).nonzero().squeeze(1)
        return torch.cat([real, real.new_full((1,), attention_mask.numel())])[self.index]

    def attention_mask(self, dtype: torch.dtype) -> torch.Tensor:
        """Additive block-diagonal causal mask ``[R, 1, T, T]``; a padding slot attends only to itself (so no
        row of the softmax is empty)."""
        seg = self.segment
        t = seg.shape[1]
        causal = torch.ones(t, t, dtype=torch.bool, device=seg.device).tril()
        same = (seg[:, :, None] == seg[:, None, :]) & (seg[:, :, None] >= 0)
        allowed = (same & causal) | torch.eye(t, dtype=torch.bool, device=seg.device)
        mask = torch.zeros(allowed.shape, dtype=dtype, device=seg.device)
        return mask.masked_fill(~allowed, torch.finfo(dtype).min)[:, None]


def plan_packing(attention_mask: torch.Tensor) -> Packing:
    """Pack the attended tokens of ``attention_mask`` [B, T] (any padding side) into rows of width T."""
    b, t = attention_mask.shape
    lengths = attention_mask.bool().sum(1).tolist()
    starts = [0]
    for n in lengths:
        starts.append(starts[-1] + n)
    rows: list[list[int]] = []  # samples per packed row
    free: list[int] = []
    for s in sorted(range(b), key=lambda i: -lengths[i]):
        for r, room in enumerate(free):
            if lengths[s] <= room:
                rows[r].append(s)
                free[r] -= lengths[s]
                break
        else:
            rows.append([s])
            free.append(t - lengths[s])
    n = starts[-1]
    index = torch.full((len(rows), t), n, dtype=torch.long)
    segment = torch.full((len(rows), t), -1, dtype=torch.long)
    for r, samples in enumerate(rows):
        pos = 0
        for s in samples:
            index[r, pos : pos + lengths[s]] = torch.arange(starts[s], starts[s + 1])
            segment[r, pos : pos + lengths[s]] = s
            pos += lengths[s]
    dev = attention_mask.device
    return Packing(index.to(dev), segment.to(dev), n)

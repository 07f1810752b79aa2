"""Sequence packing: every real token lands exactly once, samples never see each other, order is kept."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vistakit.model.packing import plan_packing


def right_padded(lengths: list[int], t: int) -> torch.Tensor:
    return (torch.arange(t)[None] < torch.tensor(lengths)[:, None]).long()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 12), min_size=1, max_size=8), st.booleans())
def test_gather_scatter_round_trip_and_mask(lengths, left):
    t = max(max(lengths), 1)
    mask = right_padded(lengths, t)
    if left:
        mask = mask.flip(1)
    plan = plan_packing(mask)
    assert plan.rows <= len(lengths) and plan.num_tokens == sum(lengths)
    flat = torch.arange(plan.num_tokens, dtype=torch.float32)[:, None] + 1
    packed = plan.gather(flat)
    assert packed.shape == (plan.rows, t, 1)
    assert torch.equal(plan.scatter(packed), flat)
    # positions: the same packing read straight from the padded [B, T] layout (padding slots -> B * T)
    values = torch.arange(mask.numel(), dtype=torch.float32) + 1
    padded = torch.cat([values, torch.zeros(1)])[plan.positions(mask)]
    assert torch.equal(padded[..., None], plan.gather(values[mask.reshape(-1).bool()][:, None]))
    # Each sample's tokens are contiguous and in order within one row.
    seg = plan.segment
    for s, n in enumerate(lengths):
        where = (seg == s).nonzero()
        assert len(where) == n
        if n:
            assert where[:, 0].unique().numel() == 1
            assert torch.equal(plan.index[seg == s], torch.arange(sum(lengths[:s]), sum(lengths[: s + 1])))
    allowed = plan.attention_mask(torch.float32)[:, 0] == 0
    for r in range(plan.rows):
        for i in range(t):
            for j in range(t):
                same = seg[r, i] == seg[r, j] and seg[r, i] >= 0 and j <= i
                assert bool(allowed[r, i, j]) == (same or i == j)


def test_packing_saves_rows():
    plan = plan_packing(right_padded([10, 2, 3, 4, 1], 10))
    assert plan.rows == 2  # [10] and [4, 3, 2, 1]

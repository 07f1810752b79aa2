"""The location head (PixelLLM, Xu et al. 2024): a small MLP on the language model's hidden states that regresses
the location each output token writes.

Here the regressed tokens are the grammar's ``<loc_k>``: the hidden state that predicts a ``<loc_k>`` must also
give that token's coordinate, ``(k + 0.5) / bins`` in the model frame (x or y, whichever the span puts there),
trained with L1 beside the token loss (``lm.location_weight``). Unlike the token loss, which scores every wrong
bin alike, the L1 loss grows with the distance to the right bin.

Readout (``lm.location_readout="head"``): where the language model would write a location, the bin comes from
the regression instead of from the ``<loc_k>`` scores — :func:`location_logprobs` turns the regressed value into
log-probabilities over the bins (a discretised Laplace distribution, the one L1 fits), which the engine puts in
place of the LM's own distribution *among* location tokens; whether a location comes next stays the LM's
decision.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LocationHead(nn.Module):
    """hidden [..., H] → coordinate in [0, 1] [...]: Linear → GELU → Linear → sigmoid."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, 1))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.mlp(hidden).squeeze(-1).float())


def bin_lookup(loc_token_ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """LongTensor [vocab_size]: the bin of every ``<loc_k>`` token id (``loc_token_ids`` in bin order), -1 elsewhere."""
    lookup = torch.full((vocab_size,), -1, dtype=torch.long, device=loc_token_ids.device)
    lookup[loc_token_ids] = torch.arange(len(loc_token_ids), device=loc_token_ids.device)
    return lookup


def location_loss(values: torch.Tensor, bins_target: torch.Tensor, bins: int) -> torch.Tensor:
    """Mean L1 between regressed ``values`` [N] (in [0, 1]) and the centres of the target bins [N]."""
    return F.l1_loss(values, (bins_target.float() + 0.5) / bins)


def location_logprobs(values: torch.Tensor, bins: int, scale: float = 1.0) -> torch.Tensor:
    """Log-probabilities [..., bins] over the bins for regressed ``values`` [...]: ``-|centre_k - value| / scale``
    (in bins), normalised — the nearest bin is the most likely."""
    centres = torch.arange(bins, device=values.device, dtype=torch.float32) + 0.5
    return (-(centres - values.float()[..., None] * bins).abs() / scale).log_softmax(-1)

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


def token_loss(
    scores: torch.Tensor, target: torch.Tensor, bins_of: torch.Tensor | None, loc_ids: torch.Tensor | None, sigma: float
) -> torch.Tensor:
    """Mean next-token loss of ``scores`` [N, V] (float) for ``target`` ids [N].

    ``sigma`` 0: cross-entropy. ``sigma`` > 0 (bins; ``lm.location_sigma``): where the target is a ``<loc_k>``
    (``bins_of`` [V]: each token id's bin, -1 elsewhere; ``loc_ids`` [bins]: the ids in bin order), the target is a
    discretised Gaussian over the bins around ``k`` instead of ``k`` alone, and the loss its KL divergence from
    the predicted distribution — zero when the prediction matches it, growing with the distance of the predicted
    mass from ``k``, so a neighbouring bin costs less than a far one (Gaussian label smoothing of coordinate
    bins, as SimCC does for keypoints). Other tokens keep the cross-entropy."""
    if sigma <= 0 or bins_of is None or loc_ids is None:
        return F.cross_entropy(scores, target)
    logp = scores.log_softmax(-1)
    loss = -logp.gather(1, target[:, None]).squeeze(1)
    k = bins_of[target]
    at = k >= 0
    if bool(at.any()):
        centres = torch.arange(len(loc_ids), device=scores.device, dtype=torch.float32)
        q = (-0.5 * ((centres - k[at, None].float()) / sigma) ** 2).softmax(-1)  # normalised over the bins
        kl = (q * (q.clamp(min=1e-12).log() - logp[at][:, loc_ids])).sum(-1)
        loss = loss.clone()
        loss[at] = kl
    return loss.mean()


def location_logprobs(values: torch.Tensor, bins: int, scale: float = 1.0) -> torch.Tensor:
    """Log-probabilities [..., bins] over the bins for regressed ``values`` [...]: ``-|centre_k - value| / scale``
    (in bins), normalised — the nearest bin is the most likely."""
    centres = torch.arange(bins, device=values.device, dtype=torch.float32) + 0.5
    return (-(centres - values.float()[..., None] * bins).abs() / scale).log_softmax(-1)

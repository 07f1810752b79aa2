"""Image tokenizers: one image's patch features (+ its sample's instruction) → the tokens the LM reads.

``instruction`` — VistaLLM's instruction-guided image tokenizer: ``Q`` learnable queries; each layer is
self-attention over the queries, cross-attention from the queries to [patch features ; instruction embeddings]
(both projected to the tokenizer width, tagged with a learned type embedding; padded instruction positions are
masked out), and an MLP. The output is projected to the LM hidden size: ``Q`` tokens per image, whatever the
image resolution, so many images fit in the context and each is compressed *for the task asked*.

With ``config.grounding`` it also scores each patch for what the instruction names
(:class:`~vistakit.model.grounding.RelevanceHead`) and adds the scores, times a learned gain per layer, to the
cross-attention logits of the patch keys: the queries are steered to the named object's patches, and the scores
are returned for the grounding loss. With ``config.where_tokens`` the map is also read out as a box
(:class:`~vistakit.model.grounding.SoftBox`), returned as ``ImageTokens.box``; the model writes it as four
location-token embeddings after the queries.

With ``config.what_token`` it also returns ``what`` [N_img, H_lm]: the tower's patch features averaged with the
relevance map's softmax weights, through an MLP
to the LM width — the named object's appearance as one token; the model places it after the where tokens.

With ``config.anchor_tokens`` the relation term's anchor map is read out as a box too (its own
:class:`~vistakit.model.grounding.SoftBox`), returned as ``ImageTokens.anchor_box``; the model writes it as four
more location-token embeddings after the where (and what) tokens. With ``config.comparison_token`` it also
returns ``comparison`` [N_img, H_lm]: the first map's box against the anchor's
(:class:`~vistakit.model.grounding.ComparisonToken`), one token the model places after the anchor's box. With
``config.anchor_what`` it returns ``anchor_what`` [N_img, H_lm]: the what token of the anchor map (the same MLP),
placed right after the anchor's box.

With ``config.referents`` K > 1 it draws K relevance maps, one per object the instruction names in order; each
gets its box (and what token), and the queries' cross-attention is steered by ``logsumexp_k(map_k) - log K``
(exactly the one map when they agree).

``projector`` — the ablation: an MLP over every patch, ``P`` tokens per image, the instruction unused.

Shapes: ``patches`` [N_img, P, D_vision]; ``instruction`` [N_img, L, H_lm] (each image gets its own sample's
instruction embeddings); ``instruction_mask`` BoolTensor [N_img, L] (True: a real token) →
:class:`ImageTokens` (``tokens`` [N_img, T, H_lm], ``relevance`` [N_img, K, P] logits or ``None``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn

from ..registry import Registry
from .config import ImageTokenizerConfig
from .grounding import ComparisonToken, RelevanceHead, SoftBox
from .vision import Attention, Mlp


class ImageTokens(NamedTuple):
    tokens: torch.Tensor  # [N_img, T, H_lm]
    relevance: torch.Tensor | None = None  # [N_img, K, P] per-patch relevance logits, K = referents (grounding)
    box: torch.Tensor | None = None  # [N_img, K, 4] each relevance map's box, x1 y1 x2 y2 in [0, 1] (where_tokens)
    features: torch.Tensor | None = None  # [N_img, P, D] the tower's patch features (set by VistaModel.encode_images)
    what: torch.Tensor | None = None  # [N_img, K, H_lm] the features under each relevance map (what_token)
    anchor: torch.Tensor | None = None  # [N_img, P] the relation anchor's logits (relations)
    relation: torch.Tensor | None = None  # [N_img, R + 1] which relation the instruction uses, logits (relations)
    anchor_box: torch.Tensor | None = None  # [N_img, 4] the anchor map's box, x1 y1 x2 y2 in [0, 1] (anchor_tokens)
    comparison: torch.Tensor | None = None  # [N_img, H_lm] the first map's box against the anchor's (comparison_token)
    anchor_what: torch.Tensor | None = None  # [N_img, H_lm] the features under the anchor map (anchor_what)


IMAGE_TOKENIZERS: Registry[Callable[[ImageTokenizerConfig, int, int], nn.Module]] = Registry("image tokenizer")


class QueryLayer(nn.Module):
    """Queries ``[N, Q, D]`` ← self-attention, cross-attention to ``context`` ``[N, K, D]``, MLP (pre-norm)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm_self, self.self_attn = nn.LayerNorm(dim), Attention(dim, heads)
        self.norm_q, self.norm_ctx, self.cross_attn = nn.LayerNorm(dim), nn.LayerNorm(dim), Attention(dim, heads)
        self.norm_mlp, self.mlp = nn.LayerNorm(dim), Mlp(dim, 4 * dim)

    def forward(self, q: torch.Tensor, context: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        """``key_mask``: BoolTensor [N, K] (True: may be attended) or an additive float bias [N, K]."""
        q = q + self.self_attn(self.norm_self(q))
        q = q + self.cross_attn(self.norm_q(q), self.norm_ctx(context), key_mask)
        return q + self.mlp(self.norm_mlp(q))


@IMAGE_TOKENIZERS.register("instruction")
class InstructionGuidedTokenizer(nn.Module):
    """VistaLLM's instruction-guided image tokenizer: ``Q = config.num_queries`` tokens per image."""

    def __init__(self, config: ImageTokenizerConfig, vision_dim: int, lm_hidden: int) -> None:
        super().__init__()
        self.config = config
        d = config.dim
        self.queries = nn.Parameter(torch.randn(config.num_queries, d) * 0.02)
        self.patch_proj = nn.Linear(vision_dim, d)
        self.instruction_proj = nn.Linear(lm_hidden, d)
        self.type_embed = nn.Parameter(torch.zeros(2, d))  # 0: patch key, 1: instruction key
        self.layers = nn.ModuleList(QueryLayer(d, config.heads) for _ in range(config.depth))
        self.norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, lm_hidden)
        self.relevance = (RelevanceHead(d, lm_hidden, config.heads, config.referents, config.relations,
                                        config.relation_mode) if config.grounding else None)  # fmt: skip
        self.relevance_gain = nn.Parameter(torch.ones(config.depth)) if config.grounding else None
        self.soft_box = SoftBox() if config.where_tokens else None
        self.anchor_box = SoftBox() if config.anchor_tokens and config.relations and config.grounding else None
        self.comparison = None
        if config.comparison_token and self.anchor_box is not None:
            self.comparison = ComparisonToken(lm_hidden, relational=config.comparison_relation)
        self.what = None
        if config.what_token:
            self.what = nn.Sequential(nn.LayerNorm(vision_dim), nn.Linear(vision_dim, lm_hidden), nn.GELU(),
                                      nn.Linear(lm_hidden, lm_hidden))  # fmt: skip

    def forward(
        self,
        patches: torch.Tensor,
        instruction: torch.Tensor,
        instruction_mask: torch.Tensor,
    ) -> ImageTokens:
        patch_ctx = self.patch_proj(patches)
        n, p, _ = patch_ctx.shape
        patch_ctx = patch_ctx + self.type_embed[0]
        context = torch.cat([patch_ctx, self.instruction_proj(instruction) + self.type_embed[1]], 1)
        key_mask = torch.cat([instruction_mask.new_ones(n, p), instruction_mask], 1).bool()
        q = self.queries[None].expand(n, -1, -1).to(patches.dtype)
        relevance = anchor = relation = None
        if self.relevance is not None:
            relevance, rel = self.relevance(patch_ctx, instruction, instruction_mask)  # [N, K, P]
            anchor, relation = rel if rel is not None else (None, None)
            steer = relevance[:, 0] if relevance.shape[1] == 1 else relevance.logsumexp(1) - math.log(relevance.shape[1])
        if relevance is not None:
            blocked = torch.zeros(key_mask.shape, dtype=q.dtype, device=q.device).masked_fill(~key_mask, float("-inf"))
        for i, layer in enumerate(self.layers):
            if relevance is None:
                q = layer(q, context, key_mask)
            else:
                bias = blocked.clone()
                bias[:, :p] += steer.to(q.dtype) * self.relevance_gain[i].to(q.dtype)
                q = layer(q, context, bias)
        box = self.soft_box(relevance) if self.soft_box is not None else None
        what = self._what(patches, relevance) if self.what is not None and relevance is not None else None
        anchor_box = self.anchor_box(anchor) if self.anchor_box is not None and anchor is not None else None
        comparison = None
        if self.comparison is not None and anchor_box is not None and box is not None:
            directions = self.relevance.relation.direction if self.comparison.relational else None
            comparison = self.comparison(box[:, 0], anchor_box, relation, directions)
        anchor_what = None
        if self.config.anchor_what and self.what is not None and anchor is not None:
            anchor_what = self._what(patches, anchor)
        return ImageTokens(self.out(self.norm(q)), relevance, box, what=what, anchor=anchor, relation=relation,
                           anchor_box=anchor_box, comparison=comparison, anchor_what=anchor_what)  # fmt: skip

    def _what(self, patches: torch.Tensor, relevance: torch.Tensor) -> torch.Tensor:
        """Patch features ``[N, P, D]`` averaged with ``softmax(relevance)`` per map (``[N, K, P]``) →
        ``[N, K, H_lm]`` (``[N, P]`` → ``[N, H_lm]``)."""
        if relevance.ndim == 2:
            return self._what(patches, relevance[:, None])[:, 0]
        weights = relevance.float().softmax(-1)
        pooled = torch.einsum("nkp,npd->nkd", weights.to(patches.dtype), patches)
        return self.what(pooled)


@IMAGE_TOKENIZERS.register("projector")
class PatchProjector(nn.Module):
    """The ablation: every patch → one LM token through an MLP (LLaVA-1.5 style); the instruction is unused."""

    def __init__(self, config: ImageTokenizerConfig, vision_dim: int, lm_hidden: int) -> None:
        super().__init__()
        self.config = config
        self.mlp = nn.Sequential(nn.Linear(vision_dim, config.dim), nn.GELU(), nn.Linear(config.dim, lm_hidden))

    def forward(self, patches: torch.Tensor, instruction: torch.Tensor, instruction_mask: torch.Tensor) -> ImageTokens:
        return ImageTokens(self.mlp(patches))


def build_image_tokenizer(config: ImageTokenizerConfig, vision_dim: int, lm_hidden: int) -> nn.Module:
    """The image tokenizer ``config.kind`` mapping ``vision_dim`` patch features to ``lm_hidden`` tokens."""
    return IMAGE_TOKENIZERS.get(config.kind)(config, vision_dim, lm_hidden)

"""Image tokenizers: one image's patch features (+ its sample's instruction) → the tokens the LM reads.

``instruction`` — VistaLLM's instruction-guided image tokenizer: ``Q`` learnable queries; each layer is
self-attention over the queries, cross-attention from the queries to [patch features ; instruction embeddings]
(both projected to the tokenizer width, tagged with a learned type embedding; padded instruction positions are
masked out), and an MLP. The output is projected to the LM hidden size: ``Q`` tokens per image, whatever the
image resolution, so many images fit in the context and each is compressed *for the task asked*.

``projector`` — the ablation: an MLP over every patch, ``P`` tokens per image, the instruction unused.

Shapes: ``patches`` [N_img, P, D_vision]; ``instruction`` [N_img, L, H_lm] (each image gets its own sample's
instruction embeddings); ``instruction_mask`` BoolTensor [N_img, L] (True: a real token) → [N_img, T, H_lm].
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..registry import Registry
from .config import ImageTokenizerConfig
from .vision import Attention, Mlp

IMAGE_TOKENIZERS: Registry[Callable[[ImageTokenizerConfig, int, int], nn.Module]] = Registry("image tokenizer")


class QueryLayer(nn.Module):
    """Queries ``[N, Q, D]`` ← self-attention, cross-attention to ``context`` ``[N, K, D]``, MLP (pre-norm)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm_self, self.self_attn = nn.LayerNorm(dim), Attention(dim, heads)
        self.norm_q, self.norm_ctx, self.cross_attn = nn.LayerNorm(dim), nn.LayerNorm(dim), Attention(dim, heads)
        self.norm_mlp, self.mlp = nn.LayerNorm(dim), Mlp(dim, 4 * dim)

    def forward(self, q: torch.Tensor, context: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
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

    def forward(self, patches: torch.Tensor, instruction: torch.Tensor, instruction_mask: torch.Tensor) -> torch.Tensor:
        n, p, _ = patches.shape
        context = torch.cat(
            [self.patch_proj(patches) + self.type_embed[0], self.instruction_proj(instruction) + self.type_embed[1]], 1
        )
        key_mask = torch.cat([instruction_mask.new_ones(n, p), instruction_mask], 1).bool()
        q = self.queries[None].expand(n, -1, -1).to(patches.dtype)
        for layer in self.layers:
            q = layer(q, context, key_mask)
        return self.out(self.norm(q))


@IMAGE_TOKENIZERS.register("projector")
class PatchProjector(nn.Module):
    """The ablation: every patch → one LM token through an MLP (LLaVA-1.5 style); the instruction is unused."""

    def __init__(self, config: ImageTokenizerConfig, vision_dim: int, lm_hidden: int) -> None:
        super().__init__()
        self.config = config
        self.mlp = nn.Sequential(nn.Linear(vision_dim, config.dim), nn.GELU(), nn.Linear(config.dim, lm_hidden))

    def forward(self, patches: torch.Tensor, instruction: torch.Tensor, instruction_mask: torch.Tensor) -> torch.Tensor:
        return self.mlp(patches)


def build_image_tokenizer(config: ImageTokenizerConfig, vision_dim: int, lm_hidden: int) -> nn.Module:
    """The image tokenizer ``config.kind`` mapping ``vision_dim`` patch features to ``lm_hidden`` tokens."""
    return IMAGE_TOKENIZERS.get(config.kind)(config, vision_dim, lm_hidden)

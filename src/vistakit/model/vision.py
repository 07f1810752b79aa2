"""Vision towers: images → patch features.

Every tower maps ``pixel_values`` FloatTensor ``[N, 3, S, S]`` (normalised with the tower's mean/std, model
frame: the resized + padded canvas) to patch features ``[N, P, D]`` with ``P = (S // patch)²`` in row-major
patch order (row y, then column x) and ``D = config.dim``.

``vit`` is trained from scratch with *fixed* 2-D sin-cos position embeddings; ``hf_clip`` / ``hf_siglip`` wrap
``CLIPVisionModel`` / ``SiglipVisionModel`` loaded offline from a local directory.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..registry import Registry
from .config import VisionConfig

VISION_TOWERS: Registry[Callable[[VisionConfig, bool], nn.Module]] = Registry("vision tower")


def sincos_2d(grid: int, dim: int) -> torch.Tensor:
    """Fixed 2-D sin-cos position embeddings ``[grid², dim]`` (MAE style): half the channels encode the row,
    half the column, each as sin/cos at ``dim / 4`` geometric frequencies."""
    if dim % 4:
        raise ValueError(f"sin-cos position embeddings need dim divisible by 4, got {dim}")
    omega = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim // 4))
    ys, xs = torch.meshgrid(
        torch.arange(grid, dtype=torch.float64), torch.arange(grid, dtype=torch.float64), indexing="ij"
    )
    parts = []
    for coord in (ys.reshape(-1), xs.reshape(-1)):
        angle = coord[:, None] * omega[None]
        parts += [angle.sin(), angle.cos()]
    return torch.cat(parts, dim=1).float()


def sincos_1d(length: int, dim: int) -> torch.Tensor:
    """Fixed 1-D sin-cos position embeddings ``[length, dim]`` (``dim`` even)."""
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float32) / max(1, dim // 2))
    angle = torch.arange(length, dtype=torch.float32)[:, None] * omega[None]
    return torch.cat([angle.sin(), angle.cos()], 1)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Scaled dot-product attention of ``q`` [..., Lq, d] over ``k``, ``v`` [..., Lk, d]; ``mask`` broadcastable to
    [..., Lq, Lk], bool (True: attend) or additive float.

    On CUDA this is ``F.scaled_dot_product_attention`` (fused kernels). On the CPU the short sequences of these
    models run faster written out — scores, a float32 softmax, weights @ values: forward + backward of a ViT layer's
    attention ([56, 4, 64, 32] in bf16) takes 4.4 ms against 14.0 ms for PyTorch's CPU flash kernel
    (``benchmarks/attention_cpu.py``)."""
    if q.is_cuda:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    scores = (q @ k.transpose(-1, -2)) * q.shape[-1] ** -0.5
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    return scores.softmax(-1, dtype=torch.promote_types(scores.dtype, torch.float32)).to(v.dtype) @ v


class Attention(nn.Module):
    """Multi-head attention (:func:`attention`); ``context`` None means self-attention.

    ``x`` [N, Lq, D], ``context`` [N, Lk, Dc]; ``key_mask`` BoolTensor [N, Lk], True where a key may be attended,
    or a float [N, Lk] added to the attention logits (-inf: never attended).
    """

    def __init__(self, dim: int, heads: int, context_dim: int | None = None) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(context_dim or dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None, key_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        n, lq, d = x.shape
        ctx = x if context is None else context
        q = self.q(x).view(n, lq, self.heads, -1).transpose(1, 2)
        k, v = self.kv(ctx).view(n, ctx.shape[1], 2, self.heads, -1).permute(2, 0, 3, 1, 4)
        mask = None if key_mask is None else key_mask[:, None, None, :]
        if mask is not None and mask.is_floating_point():
            mask = mask.to(q.dtype)
        y = attention(q, k, v, mask)
        return self.out(y.transpose(1, 2).reshape(n, lq, d))


class Mlp(nn.Sequential):
    def __init__(self, dim: int, hidden: int, out: int | None = None) -> None:
        super().__init__(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, out or dim))


class Block(nn.Module):
    """Pre-norm transformer block: self-attention + MLP, ``[N, L, D] → [N, L, D]``; with ``cross_attention`` a
    cross-attention sublayer over a context ``[N, Lc, D]`` between the two, its output map zero-initialised."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, cross_attention: bool = False) -> None:
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim), Attention(dim, heads)
        self.norm2, self.mlp = nn.LayerNorm(dim), Mlp(dim, int(dim * mlp_ratio))
        self.cross = None
        if cross_attention:
            self.norm_cross, self.cross = nn.LayerNorm(dim), Attention(dim, heads)
            nn.init.zeros_(self.cross.out.weight)
            nn.init.zeros_(self.cross.out.bias)

    def forward(
        self,
        x: torch.Tensor,
        modulation: torch.Tensor | None = None,
        context: torch.Tensor | None = None,
        context_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``modulation`` [N, 4, D] (adaLN): scale and shift of the normalised attention input, then of the MLP's.
        ``context`` [N, Lc, D] with ``context_mask`` BoolTensor [N, Lc] (True: a real token): what the
        cross-attention reads (needed exactly when the block has one)."""
        if (self.cross is None) != (context is None):
            raise ValueError("context must be given exactly when the block cross-attends")
        m = None if modulation is None else modulation[:, :, None, :]  # [N, 4, 1, D]

        def modulate(h: torch.Tensor, i: int) -> torch.Tensor:
            return h if m is None else h * (1 + m[:, 2 * i]) + m[:, 2 * i + 1]

        x = x + self.attn(modulate(self.norm1(x), 0))
        if self.cross is not None:
            x = x + self.cross(self.norm_cross(x), context, context_mask)
        return x + self.mlp(modulate(self.norm2(x), 1))


def conv_stem(patch_size: int, dim: int) -> nn.Sequential:
    """3×3 convolutions, each halving the resolution (log2 ``patch_size`` of them, widths doubling from
    ``dim / 2**(n-1)`` up to ``dim``, GELU between), then a 1×1 projection: ``[N, 3, S, S] → [N, dim, S/p, S/p]``."""
    n = patch_size.bit_length() - 1
    widths = [max(16, dim >> (n - 1 - i)) for i in range(n)]
    layers: list[nn.Module] = []
    c = 3
    for w in widths:
        layers += [nn.Conv2d(c, w, kernel_size=3, stride=2, padding=1), nn.GELU()]
        c = w
    layers.append(nn.Conv2d(c, dim, kernel_size=1))
    return nn.Sequential(*layers)


class ViT(nn.Module):
    """A plain ViT from scratch: patch embedding (one strided convolution, or a small convolutional stem) + fixed
    sin-cos positions + ``depth`` blocks + LayerNorm.

    With ``config.instruction_film`` the forward pass takes ``condition`` [N, dim] (the pooled instruction of
    each image): one linear map, zero-initialised, turns it into a scale and shift per channel for each GELU
    output of the stem (FiLM) and for the normalised inputs of each block's attention and MLP (adaLN). With
    ``config.instruction_cross_attention`` it takes ``words`` [N, L, dim] (each image's instruction words, at the
    tower's width) and ``words_mask`` [N, L]: fixed 1-D positions are added and every block cross-attends to them.
    At initialisation the tower is the plain ViT either way."""

    def __init__(self, config: VisionConfig) -> None:
        super().__init__()
        self.config = config
        grid = config.image_size // config.patch_size
        if config.stem == "conv":
            self.patch = conv_stem(config.patch_size, config.dim)
        else:
            self.patch = nn.Conv2d(3, config.dim, kernel_size=config.patch_size, stride=config.patch_size)
        self.register_buffer("pos", sincos_2d(grid, config.dim)[None], persistent=False)
        self.blocks = nn.ModuleList(
            Block(config.dim, config.heads, config.mlp_ratio, config.instruction_cross_attention)
            for _ in range(config.depth)
        )
        self.norm_words = nn.LayerNorm(config.dim) if config.instruction_cross_attention else None
        self.norm = nn.LayerNorm(config.dim)
        self.film = None
        if config.instruction_film:
            self.stem_widths = [m.out_channels for m in self.patch[:-1] if isinstance(m, nn.Conv2d)] \
                if config.stem == "conv" else []  # fmt: skip
            self.film = nn.Linear(config.dim, 2 * sum(self.stem_widths) + 4 * config.dim * config.depth)
            nn.init.zeros_(self.film.weight)
            nn.init.zeros_(self.film.bias)

    def forward(
        self,
        pixel_values: torch.Tensor,
        condition: torch.Tensor | None = None,
        words: torch.Tensor | None = None,
        words_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``[N, 3, S, S]`` → patch features ``[N, P, dim]``."""
        s, n = self.config.image_size, len(pixel_values)
        if pixel_values.ndim != 4 or tuple(pixel_values.shape[1:]) != (3, s, s):
            raise ValueError(f"pixel_values must be [N, 3, {s}, {s}], got {list(pixel_values.shape)}")
        context = None
        if self.norm_words is not None:
            if words is None or words.ndim != 3 or tuple(words.shape[::2]) != (n, self.config.dim):
                got = None if words is None else list(words.shape)
                raise ValueError(f"vision.instruction_cross_attention needs words [N={n}, L, {self.config.dim}], "
                                 f"got {got}")  # fmt: skip
            if words_mask is None or tuple(words_mask.shape) != tuple(words.shape[:2]):
                got = None if words_mask is None else list(words_mask.shape)
                raise ValueError(f"words_mask must be [N, L] = {list(words.shape[:2])}, got {got}")
            pos = sincos_1d(words.shape[1], self.config.dim).to(words)
            context = self.norm_words(words + pos).to(pixel_values.dtype)
            words_mask = words_mask.bool()
            words_mask = words_mask | ~words_mask.any(1, keepdim=True)  # no words (an image-only prompt): no NaN
        films = None
        if self.film is None:
            modulation = [None] * len(self.blocks)
        else:
            if condition is None or tuple(condition.shape) != (n, self.config.dim):
                got = None if condition is None else list(condition.shape)
                raise ValueError(f"vision.instruction_film needs condition [N={n}, {self.config.dim}], got {got}")
            f = self.film(condition.to(pixel_values.dtype))
            stem, blocks = f.split([2 * sum(self.stem_widths), f.shape[1] - 2 * sum(self.stem_widths)], 1)
            films = iter(stem.split([w for w in self.stem_widths for _ in (0, 1)], 1))
            modulation = blocks.view(n, len(self.blocks), 4, self.config.dim).unbind(1)
        x = pixel_values
        for i, layer in enumerate(self.patch if isinstance(self.patch, nn.Sequential) else [self.patch]):
            x = layer(x)
            if films is not None and isinstance(layer, nn.GELU):
                scale, shift = next(films), next(films)
                x = x * (1 + scale[:, :, None, None]) + shift[:, :, None, None]
        x = x.flatten(2).transpose(1, 2) + self.pos.to(pixel_values.dtype)
        for block, m in zip(self.blocks, modulation):
            x = block(x, m, context, words_mask if context is not None else None)
        return self.norm(x)


class HFVisionTower(nn.Module):
    """A Hugging Face CLIP / SigLIP vision model; features are the hidden state ``feature_layer`` without
    CLIP's class token, ``[N, P, hidden]``."""

    def __init__(self, model: nn.Module, config: VisionConfig, drop_cls: bool) -> None:
        super().__init__()
        self.model, self.config, self.drop_cls = model, config, drop_cls

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        out = self.model(pixel_values=pixel_values, output_hidden_states=True)
        x = out.hidden_states[self.config.feature_layer]
        return x[:, 1:] if self.drop_cls else x


@VISION_TOWERS.register("vit")
def _build_vit(config: VisionConfig, load_weights: bool) -> nn.Module:
    return ViT(config)


def _hf_tower(config: VisionConfig, load_weights: bool, model_cls: type, config_cls: type, drop_cls: bool) -> nn.Module:
    """Load ``model_cls`` from ``config.hf_path`` (``load_weights``) or build it from the stored ``hf_config``;
    sizes in ``config`` (dim, image_size, patch_size, depth, heads) are overwritten by the tower's own, and
    ``hf_config`` is filled so a checkpoint rebuilds offline without the directory."""
    if (load_weights or config.hf_config is None) and (not config.hf_path or not Path(config.hf_path).is_dir()):
        raise FileNotFoundError(
            f"vision kind {config.kind!r} needs vision.hf_path = a local Hugging Face directory; got {config.hf_path!r}"
        )
    if load_weights:
        model = model_cls.from_pretrained(config.hf_path, local_files_only=True)
    else:
        if config.hf_config is not None:
            hf = config_cls.from_dict(config.hf_config)
        else:
            hf = config_cls.from_pretrained(config.hf_path, local_files_only=True)
        model = model_cls(hf)
    hf = model.config
    config.dim, config.image_size, config.patch_size = hf.hidden_size, hf.image_size, hf.patch_size
    config.depth, config.heads = hf.num_hidden_layers, hf.num_attention_heads
    config.hf_config = hf.to_dict()
    return HFVisionTower(model, config, drop_cls)


@VISION_TOWERS.register("hf_clip")
def _build_clip(config: VisionConfig, load_weights: bool) -> nn.Module:
    from transformers import CLIPVisionConfig, CLIPVisionModel

    return _hf_tower(config, load_weights, CLIPVisionModel, CLIPVisionConfig, drop_cls=True)


@VISION_TOWERS.register("hf_siglip")
def _build_siglip(config: VisionConfig, load_weights: bool) -> nn.Module:
    from transformers import SiglipVisionConfig, SiglipVisionModel

    return _hf_tower(config, load_weights, SiglipVisionModel, SiglipVisionConfig, drop_cls=False)


def build_vision(config: VisionConfig, load_weights: bool = True) -> nn.Module:
    """The tower ``config.kind`` (pretrained weights from ``hf_path`` when ``load_weights``)."""
    return VISION_TOWERS.get(config.kind)(config, load_weights)

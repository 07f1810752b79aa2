"""A preallocated (static) KV cache and a lean one-token decoding step for Llama-family language models.

Hugging Face's forward pays for generality on every decoding step: it builds a 4-D mask, computes the rotary
angles, grows a ``DynamicCache`` with ``torch.cat`` and walks several wrappers — about 300 small operations per
token for the 4-layer reference LM, most of a step's time. :class:`StaticDecoder` runs the LM's own weights in
about 25 operations per layer over buffers allocated once:

- keys / values ``[R, kv_heads, T_max, head_dim]`` per layer, filled from the prefill's cache and then one
  column per step (every row writes the same column: prompts are left-padded to a common length);
- a boolean attention mask ``[R, 1, 1, T_max]`` (False on left padding);
- the rotary ``cos`` / ``sin`` of every position, computed once by the LM's own rotary module;
- the q, k, v projections fused into one matrix product, the MLP's gate and up into another
  (:func:`fused_weights`); RMSNorm and attention are torch's fused ``rms_norm`` and
  ``scaled_dot_product_attention``.

The arithmetic is the LM's up to float rounding (the norms and attention are fused kernels): greedy answers are
the same tokens as Hugging Face's forward gives (``tests/model/test_static_cache.py``). Rows can be dropped
(:meth:`StaticDecoder.keep`: finished answers leave the batch) or reordered (beams). :func:`supports` says
whether an LM can use it; the engine falls back to Hugging Face's forward otherwise.
"""

from __future__ import annotations

import weakref
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

_ROTARY_FIXED = ("default", "linear", "llama3", "yarn")  # angles depend on the position only (not the length)


def supports(lm: nn.Module) -> str | None:
    """``None`` when :class:`StaticDecoder` can run ``lm``, else why not (one line)."""
    try:
        from transformers import LlamaForCausalLM
    except ImportError:  # pragma: no cover  (transformers is a dependency)
        return "transformers has no Llama"
    if type(lm) is not LlamaForCausalLM:
        return f"the lean step knows Llama only, not {type(lm).__name__}"
    impl = getattr(lm.config, "_attn_implementation", None)
    if impl not in ("eager", "sdpa"):
        return f"attention {impl!r} (the lean step runs eager or sdpa)"
    rope = getattr(lm.model.rotary_emb, "rope_type", "default")
    if rope not in _ROTARY_FIXED:
        return f"rotary embedding {rope!r} changes with the sequence length"
    return None


class StaticDecoder:
    """The decoding state of a Llama LM after a prefill, in fixed buffers. ``cache``: the prefill's KV cache (a
    transformers ``Cache``); ``attention_mask`` [R, T] the prompt's (left-padded); ``steps``: the most tokens
    that will be fed after the prompt (the buffers hold ``T + steps`` positions)."""

    def __init__(self, lm: nn.Module, cache: Any, attention_mask: torch.Tensor, steps: int) -> None:
        self.lm = lm
        body = lm.model
        self.layers = list(body.layers[: lm.config.num_hidden_layers])
        self.embed, self.norm, self.head = body.embed_tokens, body.norm, lm.lm_head
        self.fused = fused_weights(lm)
        self.heads, self.kv_heads = lm.config.num_attention_heads, lm.config.num_key_value_heads
        self.gqa = self.heads != self.kv_heads
        self.silu = all(isinstance(layer.mlp.act_fn, nn.SiLU) for layer in self.layers)
        rows, t = attention_mask.shape
        self.t = t  # the column the next token is written to
        total = t + max(0, steps)
        keys, values = _cache_tensors(cache)
        if len(keys) != len(self.layers):
            raise ValueError(f"the prefill cache holds {len(keys)} layers; the LM has {len(self.layers)}")
        self.keys, self.values = [], []
        for k, v in zip(keys, values):
            if k.shape[2] != t:
                raise ValueError(f"the prefill cache holds {k.shape[2]} positions; the prompt has {t}")
            # columns past the prompt are written by :meth:`step` before attention reads them
            kb = k.new_empty(k.shape[0], k.shape[1], total, k.shape[3])
            vb = v.new_empty(v.shape[0], v.shape[1], total, v.shape[3])
            kb[:, :, :t] = k
            vb[:, :, :t] = v
            self.keys.append(kb)
            self.values.append(vb)
        mask = torch.ones(rows, total, dtype=torch.bool, device=attention_mask.device)
        mask[:, :t] = attention_mask.bool()
        self.allowed = mask[:, None, None, :]  # [R, 1, 1, T_max]: True where attended
        # the next token's position counts the attended tokens only (left padding does not shift it)
        self.positions = attention_mask.long().sum(1)
        with torch.no_grad():
            probe = self.embed.weight.new_zeros(1, 1, 1)
            where = torch.arange(lm.config.max_position_embeddings, device=mask.device)[None]
            cos, sin = body.rotary_emb(probe, where)
        self.cos, self.sin = cos[0], sin[0]  # [P, head_dim]

    @property
    def rows(self) -> int:
        return int(self.positions.shape[0])

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only ``rows`` (LongTensor of row indices, in their new order): for beams, and for answers that
        leave the batch once finished."""
        self.keys = [self._take(k, rows) for k in self.keys]
        self.values = [self._take(v, rows) for v in self.values]
        self.allowed = self.allowed.index_select(0, rows)
        self.positions = self.positions.index_select(0, rows)

    reorder = keep

    def _take(self, buffer: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """A new buffer of ``rows``, copying the written columns only."""
        out = buffer.new_empty(len(rows), *buffer.shape[1:])
        out[:, :, : self.t] = buffer[:, :, : self.t].index_select(0, rows)
        return out

    def step(self, tokens: torch.Tensor, hidden: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Feed ``tokens`` [R] (one per row) and return the logits [R, V] for the next token (and, with ``hidden``,
        the LM body's last hidden state [R, H] at the fed token, after the final norm)."""
        t = self.t
        if t >= self.keys[0].shape[2]:
            raise RuntimeError(f"the static cache holds {self.keys[0].shape[2]} positions; all are used")
        x = F.embedding(tokens[:, None], self.embed.weight)  # [R, 1, H]
        r, heads, kv = x.shape[0], self.heads, self.heads + self.kv_heads
        pos = self.positions
        cos, sin = self.cos[pos][:, None], self.sin[pos][:, None]  # [R, 1, D]: broadcast over heads
        mask = self.allowed[..., : t + 1]
        # the modules' weights called directly: a module call costs more than this tiny LM's matrix products
        for (qkv, qkv_b, gate_up, gate_up_b), layer, kb, vb in zip(self.fused, self.layers, self.keys, self.values):
            attn, mlp = layer.self_attn, layer.mlp
            both = F.linear(_rms(layer.input_layernorm, x), qkv, qkv_b).view(r, -1, attn.head_dim)  # [R, q+k+v, D]
            rotated = _rope(both[:, :kv], cos, sin)
            kb[:, :, t] = rotated[:, heads:]
            vb[:, :, t] = both[:, kv:]
            out = F.scaled_dot_product_attention(rotated[:, :heads, None], kb[:, :, : t + 1], vb[:, :, : t + 1],
                                                 attn_mask=mask, scale=attn.scaling, enable_gqa=self.gqa)  # fmt: skip
            x = x + F.linear(out.view(r, 1, -1), attn.o_proj.weight, attn.o_proj.bias)
            g, u = F.linear(_rms(layer.post_attention_layernorm, x), gate_up, gate_up_b).chunk(2, -1)
            g = F.silu(g) if self.silu else mlp.act_fn(g)
            x = x + F.linear(g * u, mlp.down_proj.weight, mlp.down_proj.bias)
        h = _rms(self.norm, x)
        self.t = t + 1
        self.positions = pos + 1
        return F.linear(h[:, -1], self.head.weight, self.head.bias), (h[:, -1] if hidden else None)


def _rms(norm: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A Llama RMSNorm module in one fused call (its weight and epsilon), in float32 as the module computes."""
    w = norm.weight
    if x.dtype == torch.float32 and w.dtype == torch.float32:
        return F.rms_norm(x, x.shape[-1:], w, eps=norm.variance_epsilon)
    return F.rms_norm(x.float(), x.shape[-1:], eps=norm.variance_epsilon).to(x.dtype) * w


def _rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary embedding of ``x`` [..., D] (Llama's half-split rotation)."""
    a, b = x.chunk(2, -1)
    return x * cos + torch.cat((-b, a), -1) * sin


_FUSED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def fused_weights(lm: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor | None]]:
    """Per layer: the q, k, v projections as one weight (and bias), and the MLP's gate and up projections as one:
    two matrix products where the LM's forward does five. Cached per LM until one of its weights changes."""
    layers = lm.model.layers[: lm.config.num_hidden_layers]
    parts = [(l.self_attn.q_proj, l.self_attn.k_proj, l.self_attn.v_proj, l.mlp.gate_proj, l.mlp.up_proj)
             for l in layers]  # fmt: skip
    tensors = [p for group in parts for m in group for p in (m.weight, m.bias) if p is not None]
    key = tuple((p.data_ptr(), p._version, p.dtype, p.device) for p in tensors)
    hit = _FUSED.get(lm)
    if hit is not None and hit[0] == key:
        return hit[1]

    def cat(modules: tuple[nn.Linear, ...]) -> tuple[torch.Tensor, torch.Tensor | None]:
        weight = torch.cat([m.weight for m in modules]).detach()
        if all(m.bias is None for m in modules):
            return weight, None
        bias = [m.bias if m.bias is not None else m.weight.new_zeros(m.out_features) for m in modules]
        return weight, torch.cat(bias).detach()

    fused = [(*cat(group[:3]), *cat(group[3:])) for group in parts]
    _FUSED[lm] = (key, fused)
    return fused


def _cache_tensors(cache: Any) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Per-layer keys and values ``[R, kv_heads, T, head_dim]`` of a transformers cache (``layers`` of
    ``keys`` / ``values`` in transformers 4.56 on; ``key_cache`` / ``value_cache`` before)."""
    layers = getattr(cache, "layers", None)
    if layers is not None:
        return [layer.keys for layer in layers], [layer.values for layer in layers]
    return list(cache.key_cache), list(cache.value_cache)

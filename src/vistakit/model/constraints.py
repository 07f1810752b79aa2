"""Constrained decoding: a state machine over token ids that only lets the model write well-formed location spans.

States and what each allows next (everything else is masked to -inf before choosing a token):

    free        text, <box>, <point>, <mask>, <kps>, </s>      (no loc token, no closer, no placeholder)
    box n       n < 4: a loc token (x2 >= x1 and y2 >= y1: boxes are xyxy); n = 4: </box>
    point n     n < 2: a loc token; n = 2: </point>
    mask r      r = 0 rings: <poly>; r >= 1: <poly> or </mask>
    poly n      a loc token; </poly> too once n >= 6 and even; only </poly> at the cap of 2 × mask_points
    kps         <kp> or </kps>
    kp name     first a plain word; then more words, <occ>, a loc token or </kp>
    kp occ      a loc token
    kp loc n    n < 2: a loc token; n = 2: </kp>

Plain-text tokens that contain '<' or '>' are never allowed, so no tag can be spelled out of characters.
A state is a small immutable tuple, so beams copy and reorder states by indexing.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from ..geometry.sequence import SequenceGrammar


class State(NamedTuple):
    mode: str = "free"
    n: int = 0  # locs written in the current box / point / ring / keypoint, or rings in the current mask
    x1: int = 0  # a box's first corner (bins), the lower bounds of its second
    y1: int = 0


FREE = State()
_OPENERS = {"<box>": "box", "<point>": "point", "<mask>": "mask", "<kps>": "kps"}


class LocationConstraint:
    """Masks of allowed next tokens for a tokenizer's ids; one instance per (tokenizer, vocab size)."""

    def __init__(self, tokenizer: Any, vocab_size: int, bins: int, mask_points: int, eos_id: int) -> None:
        self.vocab_size = vocab_size
        self.cap = 2 * max(3, mask_points)
        self.eos = eos_id
        grammar_tokens = SequenceGrammar(bins).special_tokens()
        self.ids = {t: _id(tokenizer, t) for t in grammar_tokens if not t.startswith("<loc_")}
        self.loc_bin = {_id(tokenizer, f"<loc_{k}>"): k for k in range(bins)}
        self.loc_ids = set(self.loc_bin)
        special = set(tokenizer.all_special_ids)
        tags = set(self.ids.values()) | self.loc_ids
        tokens = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        plain = {i for i, tok in enumerate(tokens)
                 if i not in special and i not in tags and tok is not None and "<" not in tok and ">" not in tok}  # fmt: skip
        # "free" text may also use the tags that are not location structure: <p>, </p>, <none>, <img_k>, routing.
        structure = {"<box>", "</box>", "<point>", "</point>", "<mask>", "</mask>", "<poly>", "</poly>",
                     "<kps>", "</kps>", "<kp>", "</kp>", "<occ>"}  # fmt: skip
        free_tags = {i for t, i in self.ids.items() if t not in structure}
        self._sets = {
            "plain": plain,
            "loc": self.loc_ids,
            "free": plain | free_tags | {self.ids[t] for t in _OPENERS} | {eos_id},
        }
        self._cache: dict[tuple, torch.Tensor] = {}

    # --- transitions ------------------------------------------------------------------------------------
    def allowed_key(self, s: State) -> tuple:
        """A hashable description of the allowed set in state ``s``."""
        m, n = s.mode, s.n
        if m == "free":
            return ("free",)
        if m == "box" and n in (2, 3):
            return (("loc>=", s.x1 if n == 2 else s.y1),)
        if m in ("box", "point"):
            need = 4 if m == "box" else 2
            return ("loc",) if n < need else (f"</{m}>",)
        if m == "mask":
            return ("<poly>",) if n == 0 else ("<poly>", "</mask>")
        if m == "poly":
            if n >= self.cap:
                return ("</poly>",)
            return ("loc", "</poly>") if n >= 6 and n % 2 == 0 else ("loc",)
        if m == "kps":
            return ("<kp>", "</kps>")
        if m == "kp_name0":
            return ("plain",)
        if m == "kp_name":
            return ("plain", "<occ>", "loc", "</kp>")
        if m == "kp_occ":
            return ("loc",)
        if m == "kp_loc":
            return ("loc",) if n < 2 else ("</kp>",)
        raise AssertionError(f"unknown constraint state {s}")

    def mask(self, s: State, device: torch.device | str = "cpu") -> torch.Tensor:
        """BoolTensor [vocab_size] on ``device``: True where a token may follow in state ``s`` (cached)."""
        key = (self.allowed_key(s), str(device))
        out = self._cache.get(key)
        if out is None:
            ids: set[int] = set()
            for part in key[0]:
                if isinstance(part, tuple):  # ("loc>=", k): location bins k and above
                    ids |= {i for i, b in self.loc_bin.items() if b >= part[1]}
                else:
                    ids |= self._sets[part] if part in self._sets else {self.ids[part]}
            out = torch.zeros(self.vocab_size, dtype=torch.bool)
            out[[i for i in ids if i < self.vocab_size]] = True
            out = self._cache[key] = out.to(device)
        return out

    def advance(self, s: State, token: int) -> State:
        """The state after writing ``token`` in state ``s`` (tokens outside the allowed set leave it unchanged
        except for the obvious openers and closers, so unconstrained text can still be tracked)."""
        m, n = s.mode, s.n
        is_loc = token in self.loc_ids
        if m == "free":
            for tag, mode in _OPENERS.items():
                if token == self.ids[tag]:
                    return State(mode, 0)
            return s
        if m == "box" and is_loc:
            k = self.loc_bin[token]
            return State(m, n + 1, k if n == 0 else s.x1, k if n == 1 else s.y1)
        if m in ("box", "point"):
            return State(m, n + 1) if is_loc else (FREE if token == self.ids[f"</{m}>"] else s)
        if m == "mask":
            return State("poly", 0) if token == self.ids["<poly>"] else (FREE if token == self.ids["</mask>"] else s)
        if m == "poly":
            if is_loc:
                return State("poly", n + 1)
            return State("mask", 1) if token == self.ids["</poly>"] else s
        if m == "kps":
            return State("kp_name0") if token == self.ids["<kp>"] else (FREE if token == self.ids["</kps>"] else s)
        if m in ("kp_name0", "kp_name"):
            if token in self._sets["plain"]:
                return State("kp_name")
            if m == "kp_name" and token == self.ids["<occ>"]:
                return State("kp_occ")
            if m == "kp_name" and is_loc:
                return State("kp_loc", 1)
            if m == "kp_name" and token == self.ids["</kp>"]:
                return State("kps")
            return s
        if m == "kp_occ":
            return State("kp_loc", 1) if is_loc else s
        if m == "kp_loc":
            return State("kp_loc", n + 1) if is_loc else (State("kps") if token == self.ids["</kp>"] else s)
        raise AssertionError(f"unknown constraint state {s}")


def _id(tokenizer: Any, token: str) -> int:
    i = tokenizer.convert_tokens_to_ids(token)
    if i is None or i == tokenizer.unk_token_id:
        raise ValueError(f"the tokenizer has no single token {token!r}; build it with add_vista_tokens")
    return int(i)

"""The one sequence grammar: typed geometry ⇄ text the language model reads and writes.

Every encoder sits beside its decoder. All locations are **normalised to the model frame** (the resized +
padded canvas, see :class:`~vistakit.geometry.transform.ImageTransform`) and quantised to ``B`` bins spelled
``<loc_0>`` … ``<loc_{B-1}>``; decoding returns bin centres ``(k + 0.5) / B``.

Grammar (whitespace between tokens is ignored)::

    box        <box> X1 Y1 X2 Y2 </box>              (xyxy)
    point      <point> X Y </point>
    mask       <mask> <poly> X Y X Y X Y … </poly> … </mask>   (one polygon per component, >= 3 points each)
    keypoints  <kps> <kp> NAME X Y </kp> <kp> NAME <occ> X Y </kp> <kp> NAME </kp> … </kps>
               (visible, labelled-but-occluded, not labelled: COCO visibility 2, 1, 0)
    empty      <none>                                 (explicitly: no matching object)
    phrase     <p> words </p>                         (ties the words to the locations that follow it)
    image      <img_K>                                (the following locations refer to image K, 0-based)
    routing    [DET] [SEG] [POSE] [GEN]               (reserved for super-link task decoders)

where X, Y are location tokens. :meth:`SequenceGrammar.decode` never raises: it returns the spans it could read
and a list of problems (a box with three coordinates, a truncated polygon, an unknown token, …).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from .boxes import Boxes
from .frames import Frame, Space
from .masks import Mask
from .points import Keypoints, Points
from .polygons import Polygons, start_at_top, trace_contours
from .sampling import DEFAULT_POINTS, DEFAULT_SAMPLER, get_sampler
from .transform import ImageTransform

ROUTING_TOKENS = ("[DET]", "[SEG]", "[POSE]", "[GEN]")
MAX_IMAGES = 16  # <img_0> … <img_15>
STRUCTURE_TOKENS = (
    "<box>", "</box>", "<point>", "</point>", "<mask>", "</mask>", "<poly>", "</poly>",
    "<kps>", "</kps>", "<kp>", "</kp>", "<occ>", "<none>", "<p>", "</p>",
)  # fmt: skip

MODEL_NORMALIZED = Space(Frame.MODEL, None, normalized=True)

_TOKEN_RE = re.compile(r"<[^<>\s]{1,24}>|\[(?:DET|SEG|POSE|GEN)\]|[^<\[]+|[<\[]")
_LOC_RE = re.compile(r"<loc_(\d{1,6})>")
_IMG_RE = re.compile(r"<img_(\d{1,3})>")


def _is_text(tok: str) -> bool:
    """Plain text (not a tag or routing token) in the token stream of :data:`_TOKEN_RE`."""
    return tok in ("<", "[") or tok[0] not in "<["


@dataclass(frozen=True)
class Span:
    """One decoded (or to-be-encoded) answer element.

    ``kind`` is one of ``box``, ``point``, ``mask``, ``keypoints``, ``none``, ``route``; ``geometry`` is the
    typed value (normalised model frame) or ``None`` for ``none``/``route``; ``phrase`` the words tied to it;
    ``image`` the image index it refers to (``None`` when the answer names no image); ``token`` the routing
    token for ``route`` spans.
    """

    kind: str
    geometry: Boxes | Points | Polygons | Keypoints | None = None
    phrase: str | None = None
    image: int | None = None
    token: str | None = None


@dataclass
class ParseResult:
    """What :meth:`SequenceGrammar.decode` could read: spans, the plain text, named images and problems."""

    spans: list[Span] = field(default_factory=list)
    text: str = ""
    images: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Span]:
        return [s for s in self.spans if s.kind == kind]

    @property
    def is_empty_answer(self) -> bool:
        return any(s.kind == "none" for s in self.spans)

    def boxes(self) -> Boxes:
        """All decoded boxes as one N×4 xyxy set (normalised model frame)."""
        rows = [s.geometry.xyxy() for s in self.of_kind("box")]
        return Boxes(np.concatenate(rows) if rows else np.zeros((0, 4)), MODEL_NORMALIZED)

    def points(self) -> Points:
        rows = [s.geometry.xy for s in self.of_kind("point")]
        return Points(np.concatenate(rows) if rows else np.zeros((0, 2)), MODEL_NORMALIZED)


@dataclass(frozen=True)
class LocationCodec:
    """Quantise normalised coordinates in [0, 1] to ``bins`` integer bins, and back to bin centres."""

    bins: int = 1000

    def __post_init__(self) -> None:
        if not isinstance(self.bins, (int, np.integer)) or self.bins < 2:
            raise ValueError(f"the number of location bins must be an integer >= 2, got {self.bins!r}")

    def quantize(self, values: np.ndarray) -> np.ndarray:
        v = np.asarray(values, np.float64)
        return np.clip(np.floor(v * self.bins), 0, self.bins - 1).astype(np.int64)

    def dequantize(self, bins: np.ndarray) -> np.ndarray:
        return (np.asarray(bins, np.float64) + 0.5) / self.bins

    def tokens(self, values: np.ndarray) -> str:
        """``<loc_k>`` tokens for normalised values, row-major (x, y, x, y, … for points)."""
        return "".join(map(self._spelling().__getitem__, self.quantize(values).reshape(-1).tolist()))

    def _spelling(self) -> list[str]:
        # Cached token strings: formatting them per call costs more than the rest of mask encoding.
        table = _SPELLINGS.get(self.bins)
        if table is None:
            table = _SPELLINGS[self.bins] = [f"<loc_{k}>" for k in range(self.bins)]
        return table


_SPELLINGS: dict[int, list[str]] = {}


class SequenceGrammar:
    """Encode typed geometry to answer text and decode answer text back, at ``bins`` location bins."""

    def __init__(self, bins: int = 1000, mask_points: int = DEFAULT_POINTS, sampler: str = DEFAULT_SAMPLER) -> None:
        """``bins`` location bins; masks are written with at most ``mask_points`` points chosen by ``sampler``."""
        self.loc = LocationCodec(bins)
        get_sampler(sampler)  # fail early, listing the known samplers
        if not isinstance(mask_points, (int, np.integer)) or mask_points < 3:
            raise ValueError(f"mask_points must be an integer >= 3, got {mask_points!r}")
        self.mask_points = int(mask_points)
        self.sampler = sampler

    @property
    def bins(self) -> int:
        return self.loc.bins

    def special_tokens(self) -> list[str]:
        """Every token the grammar uses, to add to a tokenizer's vocabulary."""
        return (
            [f"<loc_{k}>" for k in range(self.bins)]
            + list(STRUCTURE_TOKENS)
            + [f"<img_{k}>" for k in range(MAX_IMAGES)]
            + list(ROUTING_TOKENS)
        )

    # --- encoders ---------------------------------------------------------------------------------------
    @staticmethod
    def _normalised(g, what: str):
        if g.space.frame is not Frame.MODEL:
            raise ValueError(
                f"{what} must be in the model frame (map it with ImageTransform.to_model first), "
                f"got {g.space.describe()}"
            )
        return g if g.space.normalized else g.to(normalized=True)

    def encode_boxes(self, boxes: Boxes) -> str:
        b = self._normalised(boxes, "boxes").xyxy()
        return "".join(f"<box>{self.loc.tokens(row)}</box>" for row in b)

    def encode_points(self, points: Points) -> str:
        p = self._normalised(points, "points").xy
        return "".join(f"<point>{self.loc.tokens(row)}</point>" for row in p)

    def encode_polygons(self, polygons: Polygons) -> str:
        """One ``<mask>`` holding every ring of ``polygons``; no rings (an empty mask) encodes as ``<none>``."""
        rings = self._normalised(polygons, "polygons").rings
        if not rings:
            return "<none>"
        return "<mask>" + "".join(f"<poly>{self.loc.tokens(r)}</poly>" for r in rings) + "</mask>"

    def encode_mask(
        self,
        mask: Mask,
        transform: ImageTransform | None = None,
        points: int | None = None,
        sampler: str | None = None,
    ) -> str:
        """A binary mask of the original image → ``<mask>…</mask>`` with at most ``points`` points in total
        (default: the grammar's ``mask_points``, chosen by its ``sampler``).

        The contour is traced and sampled at the original resolution, then the chosen points are mapped into
        the model frame by ``transform`` (default: the mask's own size padded to a square, scale 1). Each ring
        is written from its topmost vertex (the leftmost of those), in the tracing's order
        (:func:`~vistakit.geometry.polygons.start_at_top`): a fixed start the model can learn.
        """
        h, w = mask.array.shape
        transform = transform or ImageTransform.fit((w, h), max(w, h))
        if (w, h) != transform.original_size:
            raise ValueError(f"mask is {w}x{h}, transform is for {transform.original_size}")
        contours, offset = trace_contours(mask.array, bbox=mask.bbox_hint)
        rings = get_sampler(sampler or self.sampler)(contours, points or self.mask_points)
        if not rings:
            return "<none>"
        rings = [start_at_top(r) for r in rings]
        # The hot loop of data preparation: crop offset, original → model frame and quantisation fused into one
        # affine map over all rings at once. Coordinates are >= 0, so truncation is the floor.
        a = transform.scale * self.bins / transform.canvas
        b = (offset * transform.scale + transform.offset) * (self.bins / transform.canvas)
        xy = rings[0] if len(rings) == 1 else np.concatenate(rings)
        q = (xy * a + b).astype(np.int64).ravel()
        q = np.minimum(q, self.bins - 1, out=q).tolist()
        spell = self.loc._spelling()
        if len(rings) == 1:
            return "<mask><poly>" + "".join([spell[k] for k in q]) + "</poly></mask>"
        out, pos = ["<mask>"], 0
        for ring in rings:
            end = pos + 2 * len(ring)
            out.append("<poly>" + "".join([spell[k] for k in q[pos:end]]) + "</poly>")
            pos = end
        out.append("</mask>")
        return "".join(out)

    def encode_keypoints(self, keypoints: Keypoints) -> str:
        kp = self._normalised(keypoints, "keypoints")
        parts = []
        for name, xy, v in zip(kp.names, kp.xy, kp.visibility):
            if v == 0:
                parts.append(f"<kp>{name}</kp>")
            else:
                parts.append(f"<kp>{name}{'<occ>' if v == 1 else ''}{self.loc.tokens(xy)}</kp>")
        return "<kps>" + "".join(parts) + "</kps>"

    @staticmethod
    def encode_image(index: int) -> str:
        if not 0 <= int(index) < MAX_IMAGES:
            raise ValueError(f"image index must be in 0..{MAX_IMAGES - 1}, got {index}")
        return f"<img_{int(index)}>"

    @staticmethod
    def encode_phrase(words: str) -> str:
        if "<" in words or ">" in words:
            raise ValueError(f"a phrase may not contain '<' or '>': {words!r}")
        return f"<p>{words}</p>"

    def encode(self, spans: Iterable[Span]) -> str:
        """Spans → answer text. Phrases and image tags are written only when they change."""
        out: list[str] = []
        image = phrase = None
        for s in spans:
            if s.image is not None and s.image != image:
                out.append(self.encode_image(s.image))
                image = s.image
            if s.phrase is not None and s.phrase != phrase:
                out.append(self.encode_phrase(s.phrase))
            phrase = s.phrase
            if s.kind == "box":
                out.append(self.encode_boxes(s.geometry))
            elif s.kind == "point":
                out.append(self.encode_points(s.geometry))
            elif s.kind == "mask":
                out.append(self.encode_polygons(s.geometry))
            elif s.kind == "keypoints":
                out.append(self.encode_keypoints(s.geometry))
            elif s.kind == "none":
                out.append("<none>")
            elif s.kind == "route":
                if s.token not in ROUTING_TOKENS:
                    raise ValueError(f"unknown routing token {s.token!r}; known: {', '.join(ROUTING_TOKENS)}")
                out.append(s.token)
            else:
                raise ValueError(f"unknown span kind {s.kind!r}; expected box, point, mask, keypoints, none, route")
        return "".join(out)

    # --- decoder ----------------------------------------------------------------------------------------
    def decode(self, text: str) -> ParseResult:
        """Read answer text back into spans. Never raises on any string; problems are listed, not thrown."""
        if not isinstance(text, str):
            return ParseResult(problems=[f"expected a string, got {type(text).__name__}"])
        return _Decoder(self.loc).run(text)


class _Decoder:
    """A small state machine over the token stream; one instance per decode call."""

    def __init__(self, loc: LocationCodec) -> None:
        self.loc = loc
        self.res = ParseResult()
        self.text: list[str] = []
        self.image: int | None = None
        self.phrase: str | None = None

    def problem(self, msg: str) -> None:
        if len(self.res.problems) < 100:  # bounded, whatever the input
            self.res.problems.append(msg)

    def add(self, kind: str, geometry=None, token: str | None = None) -> None:
        self.res.spans.append(Span(kind, geometry, self.phrase, self.image, token))

    def run(self, text: str) -> ParseResult:
        tokens = _TOKEN_RE.findall(text)
        i, n = 0, len(tokens)
        while i < n:
            tok = tokens[i]
            i += 1
            if _is_text(tok):
                if tok.strip():
                    self.phrase = None
                self.text.append(tok)
            elif tok in ROUTING_TOKENS:
                self.add("route", token=tok)
            elif tok == "<none>":
                self.add("none")
            elif m := _IMG_RE.fullmatch(tok):
                k = int(m.group(1))
                if k < MAX_IMAGES:
                    self.image = k
                    if k not in self.res.images:
                        self.res.images.append(k)
                else:
                    self.problem(f"image index {k} out of range 0..{MAX_IMAGES - 1}")
            elif tok == "<p>":
                i = self.read_phrase(tokens, i)
            elif tok in ("<box>", "<point>", "<mask>", "<kps>"):
                i = getattr(self, f"read_{tok[1:-1]}")(tokens, i)
            elif _LOC_RE.fullmatch(tok):
                self.problem(f"stray location token {tok} outside a box, point, mask or keypoint")
            else:
                self.problem(f"unexpected token {tok}")
        self.res.text = re.sub(r"\s+", " ", "".join(self.text)).strip()
        return self.res

    # Each reader consumes tokens from index i and returns the index after what it used.
    def read_locs(self, tokens: list[str], i: int, what: str) -> tuple[list[float], int, str | None]:
        """Location tokens until the next non-location token (skipping whitespace): values, index, stop token."""
        vals: list[float] = []
        while i < len(tokens):
            tok = tokens[i]
            if not tok.strip():
                i += 1
                continue
            m = _LOC_RE.fullmatch(tok)
            if not m:
                return vals, i, tok
            k = int(m.group(1))
            if k >= self.loc.bins:
                self.problem(f"location {tok} in a {what} is out of range (bins: {self.loc.bins})")
            else:
                vals.append(float(self.loc.dequantize(k)))
            i += 1
        return vals, i, None

    def expect_close(self, tokens: list[str], i: int, stop: str | None, close: str, what: str) -> int:
        if stop == close:
            return i + 1
        self.problem(f"{what} not closed by {close} (found {stop or 'end of text'})")
        return i

    def read_box(self, tokens: list[str], i: int) -> int:
        vals, i, stop = self.read_locs(tokens, i, "box")
        i = self.expect_close(tokens, i, stop, "</box>", "box")
        if len(vals) != 4:
            self.problem(f"box has {len(vals)} coordinates, expected 4")
            return i
        x1, y1, x2, y2 = vals
        if x2 < x1 or y2 < y1:
            self.problem("box corners out of order; reordered to xyxy")
            x1, x2, y1, y2 = min(x1, x2), max(x1, x2), min(y1, y2), max(y1, y2)
        self.add("box", Boxes([[x1, y1, x2, y2]], MODEL_NORMALIZED))
        return i

    def read_point(self, tokens: list[str], i: int) -> int:
        vals, i, stop = self.read_locs(tokens, i, "point")
        i = self.expect_close(tokens, i, stop, "</point>", "point")
        if len(vals) != 2:
            self.problem(f"point has {len(vals)} coordinates, expected 2")
            return i
        self.add("point", Points([vals], MODEL_NORMALIZED))
        return i

    def read_mask(self, tokens: list[str], i: int) -> int:
        rings: list[np.ndarray] = []
        while i < len(tokens):
            tok = tokens[i]
            if not tok.strip():
                i += 1
            elif tok == "<poly>":
                vals, i, stop = self.read_locs(tokens, i + 1, "polygon")
                i = self.expect_close(tokens, i, stop, "</poly>", "polygon")
                if len(vals) % 2:
                    self.problem(f"polygon has an odd number of coordinates ({len(vals)}); last one dropped")
                    vals = vals[:-1]
                if len(vals) < 6:
                    self.problem(f"polygon has {len(vals) // 2} points, needs at least 3; dropped")
                else:
                    rings.append(np.asarray(vals).reshape(-1, 2))
            elif tok == "</mask>":
                i += 1
                break
            else:
                self.problem(f"mask not closed by </mask> (found {tok})")
                break
        else:
            self.problem("mask not closed by </mask> (found end of text)")
        if rings:
            self.add("mask", Polygons(tuple(rings), MODEL_NORMALIZED))
        else:
            self.problem("mask has no readable polygon; dropped")
        return i

    def read_kps(self, tokens: list[str], i: int) -> int:
        names: list[str] = []
        xy: list[Sequence[float]] = []
        vis: list[int] = []
        while i < len(tokens):
            tok = tokens[i]
            if not tok.strip():
                i += 1
            elif tok == "<kp>":
                i += 1
                name = ""
                if i < len(tokens) and _is_text(tokens[i]):
                    name, i = tokens[i].strip(), i + 1
                occluded = i < len(tokens) and tokens[i] == "<occ>"
                i += occluded
                vals, i, stop = self.read_locs(tokens, i, "keypoint")
                i = self.expect_close(tokens, i, stop, "</kp>", "keypoint")
                if not name or name in names:
                    self.problem(f"keypoint with a missing or repeated name {name!r}; dropped")
                elif len(vals) == 2:
                    names.append(name), xy.append(vals), vis.append(1 if occluded else 2)
                elif not vals and not occluded:
                    names.append(name), xy.append((0.0, 0.0)), vis.append(0)
                else:
                    self.problem(f"keypoint {name!r} has {len(vals)} coordinates, expected 2 (or none)")
            elif tok == "</kps>":
                i += 1
                break
            else:
                self.problem(f"keypoints not closed by </kps> (found {tok})")
                break
        else:
            self.problem("keypoints not closed by </kps> (found end of text)")
        if names:
            self.add("keypoints", Keypoints(np.asarray(xy, np.float64), vis, tuple(names), MODEL_NORMALIZED))
        else:
            self.problem("keypoints with no readable keypoint; dropped")
        return i

    def read_phrase(self, tokens: list[str], i: int) -> int:
        words: list[str] = []
        while i < len(tokens) and tokens[i] != "</p>":
            tok = tokens[i]
            if not _is_text(tok):
                self.problem(f"phrase not closed by </p> (found {tok})")
                break
            words.append(tok)
            i += 1
        else:
            if i >= len(tokens):
                self.problem("phrase not closed by </p> (found end of text)")
            else:
                i += 1
        phrase = re.sub(r"\s+", " ", "".join(words)).strip()
        self.text.append(f" {phrase} " if phrase else " ")
        self.phrase = phrase or None
        return i

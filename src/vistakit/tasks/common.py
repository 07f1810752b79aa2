"""Shared pieces of the tasks: original-pixel targets ⇄ grammar text, and decoded spans → a Prediction.

Frames: every function here takes or returns coordinates in **pixels of the original image** (size (W, H));
the grammar text is normalised to the default model frame ``ImageTransform.fit((W, H), max(W, H))``, so a
normalised model coordinate is ``original pixels / max(W, H)`` whatever canvas the model really used.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

import numpy as np

from ..data.record import Record, Targets
from ..geometry import Boxes, Frame, ImageTransform, Keypoints, Mask, Points, SequenceGrammar, SoftMask, Space
from ..geometry.sequence import ParseResult, Span
from .base import Prediction, Task

Size = tuple[int, int]  # (width, height) in pixels of the original image


def model_transform(size: Sequence[int]) -> ImageTransform:
    """The default original → model transform of an image of ``size`` (W, H)."""
    w, h = int(size[0]), int(size[1])
    return ImageTransform.fit((w, h), max(w, h))


def _size(image_sizes: Sequence[Sequence[int]], k: int | None, what: str) -> Size:
    k = 0 if k is None else k
    if not 0 <= k < len(image_sizes):
        raise ValueError(f"{what} refers to image {k}, but the sample has {len(image_sizes)} image(s)")
    return int(image_sizes[k][0]), int(image_sizes[k][1])


# --- encoders: targets (original pixels) → text -------------------------------------------------------------
def encode_box(box: Sequence[float], size: Sequence[int], grammar: SequenceGrammar) -> str:
    """One xyxy box in original pixels → ``<box>…</box>``. The box is clipped to the image first."""
    t = model_transform(size)
    b = Boxes([list(box)], Space(Frame.ORIGINAL, t.original_size)).clip()
    return grammar.encode_boxes(t.to_model(b))


def encode_point(xy: Sequence[float], size: Sequence[int], grammar: SequenceGrammar) -> str:
    """One (x, y) point in original pixels → ``<point>…</point>`` (clipped to the image)."""
    t = model_transform(size)
    p = np.clip(np.asarray(xy, np.float64), 0, t.original_size)
    return grammar.encode_points(t.to_model(Points([p], t.original_space)))


def encode_rle(rle: Mapping[str, Any], size: Sequence[int], grammar: SequenceGrammar) -> str:
    """A COCO RLE of the original image → ``<mask>…</mask>`` (``<none>`` for an empty mask)."""
    return grammar.encode_mask(Mask.from_rle(rle), model_transform(size))


def encode_keypoints(kp: Mapping[str, Any], size: Sequence[int], grammar: SequenceGrammar) -> str:
    """A record keypoint figure ``{"names", "xy", "visibility"}`` in original pixels → ``<kps>…</kps>``."""
    t = model_transform(size)
    xy = np.clip(np.asarray(kp["xy"], np.float64).reshape(-1, 2), 0, t.original_size)
    typed = Keypoints(xy, kp["visibility"], tuple(kp["names"]), t.original_space)
    return grammar.encode_keypoints(t.to_model(typed))


def phrase(words: str) -> str:
    """``<p>words</p>`` with characters the grammar reserves ('<', '>') removed."""
    return SequenceGrammar.encode_phrase(re.sub(r"[<>]", "", words).strip())


def image_tag(k: int) -> str:
    return SequenceGrammar.encode_image(k)


def image_name(k: int) -> str:
    """What a user reads for the 0-based image index ``k``: "Image k+1", as the prompts number images."""
    return f"Image {int(k) + 1}"


# --- decoders: spans (normalised model frame) → original pixels ---------------------------------------------
def span_to_original(span: Span, image_sizes: Sequence[Sequence[int]]) -> Any:
    """The span's geometry in original pixels of the image it names (image 0 if it names none).

    Boxes → 1×4 array; points → 1×2 array; masks (polygons, or a decoder's :class:`SoftMask` on the model canvas)
    → H×W bool array; keypoints → :class:`Keypoints`.
    Raises ``ValueError`` when the span names an image the sample does not have.
    """
    size = _size(image_sizes, span.image, f"a {span.kind}")
    if isinstance(span.geometry, SoftMask):  # painted by the mask decoder on the model canvas
        return ImageTransform.fit(size, span.geometry.probs.shape[0]).soft_mask_to_original(span.geometry).array
    t = model_transform(size)
    g = t.to_original(span.geometry)
    if span.kind == "box":
        return g.xyxy()
    if span.kind == "point":
        return g.xy
    if span.kind == "mask":
        return g.rasterize().array
    return g


def spans_to_prediction(res: ParseResult, image_sizes: Sequence[Sequence[int]], kinds: Sequence[str]) -> Prediction:
    """Collect the spans of ``kinds`` into a prediction in original pixels, one instance per span.

    ``image_ids`` gets each span's image (0 if unnamed), ``labels`` its phrase ("" if none). Spans that name
    a missing image are skipped and reported in ``problems``.
    """
    pred = Prediction(text=res.text, empty=res.is_empty_answer)
    boxes, points = [], []
    for s in res.spans:
        if s.kind not in kinds:
            continue
        try:
            g = span_to_original(s, image_sizes)
        except ValueError as exc:
            pred.problems.append(str(exc))
            continue
        if s.kind == "box":
            boxes.append(g)
        elif s.kind == "point":
            points.append(g)
        elif s.kind == "mask":
            pred.masks.append(g)
        elif s.kind == "keypoints":
            pred.keypoints.append(g)
        pred.image_ids.append(s.image or 0)
        pred.labels.append(s.phrase or "")
    if boxes:
        pred.boxes = np.concatenate(boxes)
    if points:
        pred.points = np.concatenate(points)
    return pred


def ignored_spans(res: ParseResult, kinds: Sequence[str]) -> list[str]:
    """One problem per kind of span in ``res`` a task does not read (anything but ``kinds``), counted: what a
    parser drops must not vanish silently."""
    names = {"route": "routing token"}
    counts: dict[str, int] = {}
    for s in res.spans:
        if s.kind not in kinds:
            counts[s.kind] = counts.get(s.kind, 0) + 1
    read = ", ".join(k for k in kinds if k != "none")
    return [f"{n} {names.get(k, k)} span(s) ignored: this task reads only {read}" for k, n in counts.items()]


# --- scoring helpers ----------------------------------------------------------------------------------------
def gold_masks(rec: Record) -> list[np.ndarray]:
    """The record's target masks as H×W bool arrays (original pixels)."""
    return [Mask.from_rle(m).array for m in rec.targets.masks or []]


def union_mask(masks: Sequence[np.ndarray], size: Sequence[int]) -> np.ndarray:
    """Union of H×W bool masks; an all-False mask of ``size`` (W, H) when there are none or shapes differ."""
    out = np.zeros((int(size[1]), int(size[0])), bool)
    for m in masks:
        if m.shape == out.shape:
            out |= m
    return out


# The end of the last region an answer cites: what follows it is the answer proper (grounded VQA / NLVR).
_LAST_REGION = re.compile(r".*(?:</box>|</point>|</mask>|</kps>|</p>|<none>)", re.DOTALL)


def text_after_regions(text: str, grammar: SequenceGrammar) -> str:
    """The plain text after the last cited region of ``text`` (all of it when it cites none). Never raises."""
    m = _LAST_REGION.match(text)
    return grammar.decode(text[m.end() :] if m else text).text


def cite_regions(targets: Targets, image_sizes: Sequence[Size], grammar: SequenceGrammar, task: str) -> str:
    """``targets.boxes`` with their ``labels`` as ``<p>label</p><box>…</box>…`` (one phrase per run of equal
    labels) — per image (``<img_k>`` then its boxes, or ``<none>``) on a multi-image sample."""
    boxes, labels = targets.boxes or [], targets.labels or []
    if len(labels) != len(boxes):
        raise ValueError(f"task {task!r} cites its referents with one label per box; got {len(boxes)} box(es) and "
                         f"{len(labels)} label(s)")  # fmt: skip
    owners = targets.image_ids if len(image_sizes) > 1 else [0] * len(boxes)
    if owners is None or len(owners) != len(boxes):
        raise ValueError(f"task {task!r} on {len(image_sizes)} images needs targets.image_ids, one per box")
    out = []
    for k, size in enumerate(image_sizes):
        mine = [(b, lab) for b, lab, o in zip(boxes, labels, owners) if o == k]
        if len(image_sizes) > 1:
            out.append(image_tag(k) + ("" if mine else "<none>"))
        last = None
        for box, label in mine:
            if label != last:
                out.append(phrase(label))
            out.append(encode_box(box, size, grammar))
            last = label
    return "".join(out)


def norm_text(text: str) -> str:
    """Lower case, punctuation dropped, whitespace collapsed (for exact-match accuracy)."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


# --- a base for the plain-text tasks ------------------------------------------------------------------------
PER_SAMPLE_CAPTION_METRICS = ("cider", "rouge_l")  # corpus value = mean of the per-sample values
class TextAnswerTask(Task):
    """Tasks whose answer is plain text: ``targets.answers[0]`` is the target; any answer is a reference."""

    def build_answer(self, targets: Targets, image_sizes: Sequence[Size], grammar: SequenceGrammar) -> str:
        if not targets.answers:
            raise ValueError(f"task {self.name!r} needs targets.answers (reference texts), got none")
        return targets.answers[0]

    def read(self, res: ParseResult, image_sizes: Sequence[Size]) -> Prediction:
        return Prediction(text=res.text)

    def score(self, golds: list[Record], preds: list[Prediction]) -> dict[str, float]:
        from ..metrics.captioning import caption_scores

        self.check_aligned(golds, preds)
        return caption_scores([p.text for p in preds], [g.targets.answers or [] for g in golds], self.metric_names)

    def sample_scores(self, golds: list[Record], preds: list[Prediction]) -> dict[str, np.ndarray] | None:
        """Per-record CIDEr-D and ROUGE-L (their corpus values are these means; CIDEr-D's IDF weights stay those of
        the whole set). BLEU-4 and METEOR are corpus statistics, not means: left out. ``None`` for a subclass
        with its own :meth:`score`."""
        if type(self).score is not TextAnswerTask.score:
            return None
        from ..metrics.captioning import caption_scores

        self.check_aligned(golds, preds)
        names = [m for m in self.metric_names if m in PER_SAMPLE_CAPTION_METRICS]
        if not names:
            return None
        _, samples = caption_scores([p.text for p in preds], [g.targets.answers or [] for g in golds], names, per_sample=True)
        return {m: np.asarray(samples[m], np.float64) for m in names}


def per_image_masks(
    image_ids: Sequence[int], masks: Sequence[np.ndarray], image_sizes: Sequence[Sequence[int]]
) -> list[np.ndarray]:
    """One H×W bool mask per image of the sample: the union of the masks given for it (all False if none)."""
    return [union_mask([m for k2, m in zip(image_ids, masks) if k2 == k], size) for k, size in enumerate(image_sizes)]

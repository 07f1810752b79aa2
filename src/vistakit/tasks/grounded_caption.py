"""``grounded_caption`` (pixel-aligned captioning): a caption whose object words carry a point.

Answer: ``targets.answers[0]`` with each grounded word (``targets.words``, by character offsets) written as
``<p>word</p><point>X Y</point>``. The parser returns the plain caption as ``text``, the points in original pixels
and, in ``labels``, the word each point is tied to.
Scored by caption metrics on the text and ``point_acc``: a gold word counts when a predicted point with the same
word lies within 10 % of the image's longer side of the gold point.
The parser reports in ``problems`` what it cannot tie together: a point after no ``<p>word</p>`` (kept, with an
empty label), a phrase with no point after it, and spans other than points (ignored).
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from ..data.record import Record, Targets
from ..geometry import SequenceGrammar, SoftMask
from ..geometry.sequence import ParseResult
from .base import Prediction, Task, register_task
from .common import Size, encode_point, ignored_spans, norm_text, phrase, spans_to_prediction

POINT_FRACTION = 0.10
# a phrase not followed by a point (optionally on a named image): a grounded word that lost its location
_UNPOINTED = re.compile(r"<p>([^<]*)</p>(?!\s*(?:<img_\d+>\s*)?<point>)")


@register_task
class GroundedCaption(Task):
    name = "grounded_caption"
    metric_names = ("cider", "point_acc")
    prompt_templates = (
        "Describe the image and point at each object you mention.",
        "Write a caption in which every object word is located.",
        "Caption the image, grounding each object with a point.",
    )

    def build_answer(self, targets: Targets, image_sizes: Sequence[Size], grammar: SequenceGrammar) -> str:
        if not targets.answers:
            raise ValueError("task 'grounded_caption' needs targets.answers[0] (the caption), got none")
        text, out, pos = targets.answers[0], [], 0
        for w in sorted((w for w in targets.words or [] if "point" in w), key=lambda w: w["start"]):
            if w["start"] < pos:
                raise ValueError(f"grounded words overlap at characters {w['start']}..{w['end']} ({w['text']!r})")
            size = image_sizes[w.get("image", 0)]
            out += [text[pos : w["start"]], phrase(w["text"]), encode_point(w["point"], size, grammar)]
            pos = w["end"]
        out.append(text[pos:])
        return "".join(out)

    def parse(
        self,
        text: str,
        image_sizes: Sequence[Size],
        grammar: SequenceGrammar,
        painted: Sequence[SoftMask | None] | None = None,
    ) -> Prediction:
        pred = super().parse(text, image_sizes, grammar, painted)
        if isinstance(text, str):
            bare = [m.group(1).strip() for m in _UNPOINTED.finditer(text)]
            if bare:
                pred.problems.append(f"{len(bare)} phrase(s) with no point after them: {bare[:3]}")
        return pred

    def read(self, res: ParseResult, image_sizes: Sequence[Size]) -> Prediction:
        pred = spans_to_prediction(res, image_sizes, ("point",))
        pred.problems += ignored_spans(res, ("point",))
        unnamed = sum(1 for label in pred.labels if not label)
        if unnamed:
            pred.problems.append(f"{unnamed} point(s) after no <p>word</p>; kept with an empty label")
        # The decoder pads phrases with spaces; put punctuation back against the word it follows.
        pred.text = re.sub(r"\s+([.,;:!?])", r"\1", pred.text)
        return pred

    def score(self, golds: list[Record], preds: list[Prediction]) -> dict[str, float]:
        from ..metrics.captioning import caption_scores
        from ..metrics.word_points import word_point_accuracy

        self.check_aligned(golds, preds)
        out = caption_scores([p.text for p in preds], [g.targets.answers or [] for g in golds], ("cider",))
        gold_words = [
            [(norm_text(w["text"]), w["point"]) for w in g.targets.words or [] if "point" in w] for g in golds
        ]
        pred_words = [[(norm_text(lab), xy) for lab, xy in zip(p.labels, p.points)] for p in preds]
        radii = [POINT_FRACTION * max(g.image_sizes[0]) for g in golds]
        out["point_acc"] = word_point_accuracy(pred_words, gold_words, radii)
        return out

    def sample_scores(self, golds: list[Record], preds: list[Prediction]) -> dict[str, np.ndarray] | None:
        """Per-record CIDEr-D (IDF of the whole set); ``point_acc`` pools words over records: left out."""
        from ..metrics.captioning import caption_scores

        self.check_aligned(golds, preds)
        _, samples = caption_scores([p.text for p in preds], [g.targets.answers or [] for g in golds], ("cider",),
                                    per_sample=True)  # fmt: skip
        return {"cider": np.asarray(samples["cider"], np.float64)}

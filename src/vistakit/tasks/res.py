"""``res`` (referring expression segmentation): one mask for the object the phrase describes.

Answer: ``<p>phrase</p><mask><poly>…</poly>…</mask>`` (GAAS polygon points, normalised model frame). Targets:
exactly one COCO RLE mask of the original image. The parser rasterises every decoded mask at the original size
and keeps their union as the one prediction.
"""

from __future__ import annotations

from typing import Sequence

from ..data.record import Record, Targets
from ..geometry import SequenceGrammar
from ..geometry.sequence import ParseResult
from .base import Prediction, Task, register_task
from .common import Size, encode_rle, gold_masks, phrase, spans_to_prediction, union_mask


@register_task
class RES(Task):
    name = "res"
    grounds = True
    metric_names = ("ciou", "giou")
    prompt_templates = (
        "Segment {phrase}.",
        "Give the mask of {phrase}.",
        "Outline {phrase} in the image.",
        "Which pixels belong to {phrase}? Answer with a mask.",
    )

    def build_answer(self, targets: Targets, image_sizes: Sequence[Size], grammar: SequenceGrammar) -> str:
        if not targets.masks or len(targets.masks) != 1:
            raise ValueError(f"task 'res' needs exactly one target mask, got {len(targets.masks or [])}")
        head = phrase(targets.labels[0]) if targets.labels else ""
        return head + encode_rle(targets.masks[0], image_sizes[0], grammar)

    def read(self, res: ParseResult, image_sizes: Sequence[Size]) -> Prediction:
        pred = spans_to_prediction(res, image_sizes, ("mask",))
        if len(pred.masks) > 1:
            pred.masks = [union_mask(pred.masks, image_sizes[0])]
            pred.labels, pred.image_ids = pred.labels[:1], pred.image_ids[:1]
        return pred

    def score(self, golds: list[Record], preds: list[Prediction]) -> dict[str, float]:
        from ..metrics.segmentation import res_metrics

        self.check_aligned(golds, preds)
        return res_metrics(
            [union_mask(p.mask_arrays(), g.image_sizes[0]) for p, g in zip(preds, golds)],
            [union_mask(gold_masks(g), g.image_sizes[0]) for g in golds],
        )

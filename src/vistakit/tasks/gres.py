"""``gres`` (generalised RES): the masks of every object the phrase describes, or ``<none>``.

Answer: ``<p>phrase</p><mask>…</mask><mask>…</mask>…`` or ``<p>phrase</p><none>``. Targets: zero or more COCO
RLE masks of the original image. Scored on the union of the masks (gRefCOCO's cIoU / gIoU, N-acc, T-acc).
"""

from __future__ import annotations

from typing import Sequence

from ..data.record import Record, Targets
from ..geometry import SequenceGrammar
from ..geometry.sequence import ParseResult
from .base import Prediction, Task, register_task
from .common import Size, encode_rle, gold_masks, phrase, spans_to_prediction, union_mask


@register_task
class GRES(Task):
    name = "gres"
    grounds = True
    metric_names = ("ciou", "giou", "n_acc", "t_acc")
    prompt_templates = (
        "Segment every {phrase}, or say none.",
        "Give masks for all objects matching: {phrase}.",
        "Outline all of {phrase} (there may be none).",
    )

    def build_answer(self, targets: Targets, image_sizes: Sequence[Size], grammar: SequenceGrammar) -> str:
        head = phrase(targets.labels[0]) if targets.labels else ""
        parts = [encode_rle(m, image_sizes[0], grammar) for m in targets.masks or []]
        parts = [p for p in parts if p != "<none>"]  # an empty gold mask is no object
        return head + ("".join(parts) if parts else "<none>")

    def read(self, res: ParseResult, image_sizes: Sequence[Size]) -> Prediction:
        return spans_to_prediction(res, image_sizes, ("mask",))

    def score(self, golds: list[Record], preds: list[Prediction]) -> dict[str, float]:
        from ..metrics.segmentation import gres_metrics

        self.check_aligned(golds, preds)
        return gres_metrics(
            [union_mask(p.mask_arrays(), g.image_sizes[0]) for p, g in zip(preds, golds)],
            [union_mask(gold_masks(g), g.image_sizes[0]) for g in golds],
        )

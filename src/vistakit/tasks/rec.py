"""``rec`` (referring expression comprehension): one box for the object the phrase describes.

Answer: ``<p>phrase</p><box>X1 Y1 X2 Y2</box>`` (phrase from ``targets.labels[0]`` when given). Targets: exactly
one box, xyxy in original pixels. The parser keeps the first box it reads.
"""

from __future__ import annotations

from typing import Sequence

from ..data.record import Record, Targets
from ..geometry import SequenceGrammar
from ..geometry.sequence import ParseResult
from .base import Prediction, Task, register_task
from .common import Size, encode_box, phrase, spans_to_prediction


@register_task
class REC(Task):
    name = "rec"
    grounds = True
    metric_names = ("acc50", "acc75", "center_acc")
    prompt_templates = (
        "Where is {phrase}?",
        "Locate {phrase} with a bounding box.",
        "Give the bounding box of {phrase}.",
        "Find {phrase} in the image.",
    )

    def build_answer(self, targets: Targets, image_sizes: Sequence[Size], grammar: SequenceGrammar) -> str:
        if not targets.boxes or len(targets.boxes) != 1:
            raise ValueError(f"task 'rec' needs exactly one target box, got {len(targets.boxes or [])}")
        head = phrase(targets.labels[0]) if targets.labels else ""
        return head + encode_box(targets.boxes[0], image_sizes[0], grammar)

    def read(self, res: ParseResult, image_sizes: Sequence[Size]) -> Prediction:
        pred = spans_to_prediction(res, image_sizes, ("box",))
        if len(pred.boxes) > 1:
            pred.problems.append(f"{len(pred.boxes)} boxes for a single-object task; kept the first")
            pred.boxes, pred.labels, pred.image_ids = pred.boxes[:1], pred.labels[:1], pred.image_ids[:1]
        return pred

    def score(self, golds: list[Record], preds: list[Prediction]) -> dict[str, float]:
        from ..metrics.grounding import rec_accuracy

        self.check_aligned(golds, preds)
        return rec_accuracy(
            [p.boxes[:1] if len(p.boxes) else None for p in preds], [g.targets.boxes or [] for g in golds]
        )

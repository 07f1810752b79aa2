"""``detection``: every object of the listed classes, as ``<p>label</p><box>…</box>`` per instance.

The prompt's ``{classes}`` slot lists the classes asked for (comma-separated); objects of other classes are not
targets.

Targets: N boxes (xyxy, original pixels) and N ``labels``. Predictions carry no scores when parsed from text
(all instances rank equally; structured predictions may give ``scores``). Scored by COCO-style box AP.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..data.record import Record, Targets
from ..geometry import SequenceGrammar
from ..geometry.sequence import ParseResult
from .base import Prediction, Task, register_task
from .common import Size, encode_box, phrase, spans_to_prediction


@register_task
class Detection(Task):
    name = "detection"
    grounds = True
    metric_names = ("ap", "ap50")
    prompt_templates = (
        "Detect these classes: {classes}.",
        "Find every object of class {classes} and give its class and box.",
        "List the boxes of all objects of these classes: {classes}.",
    )

    def build_answer(self, targets: Targets, image_sizes: Sequence[Size], grammar: SequenceGrammar) -> str:
        boxes, labels = targets.boxes or [], targets.labels or []
        if len(labels) != len(boxes):
            raise ValueError(f"task 'detection' needs one label per box, got {len(labels)} labels for {len(boxes)} boxes")
        if not boxes:
            return "<none>"
        return "".join(phrase(lab) + encode_box(b, image_sizes[0], grammar) for b, lab in zip(boxes, labels))

    def read(self, res: ParseResult, image_sizes: Sequence[Size]) -> Prediction:
        return spans_to_prediction(res, image_sizes, ("box",))

    def score(self, golds: list[Record], preds: list[Prediction]) -> dict[str, float]:
        from ..metrics.detection import Instances, box_ap

        self.check_aligned(golds, preds)
        gold = [Instances(g.targets.boxes or np.zeros((0, 4)), g.targets.labels or []) for g in golds]
        pred = [
            Instances(p.boxes, (p.labels + [""] * len(p.boxes))[: len(p.boxes)],
                      p.scores if p.scores is not None else np.ones(len(p.boxes)))  # fmt: skip
            for p in preds
        ]
        out = box_ap(gold, pred, [g.image_sizes[0] for g in golds])
        return {k: out[k] for k in self.metric_names}

"""``grec`` (generalised REC): every object the phrase describes, as boxes, or ``<none>`` when there is none.

Answer: ``<p>phrase</p><box>…</box><box>…</box>…`` or ``<p>phrase</p><none>``. Targets: zero or more boxes
(xyxy, original pixels); an absent or empty ``boxes`` list means no target.
"""

from __future__ import annotations

from typing import Sequence

from ..data.record import Record, Targets
from ..geometry import SequenceGrammar
from ..geometry.sequence import ParseResult
from .base import Prediction, Task, register_task
from .common import Size, encode_box, phrase, spans_to_prediction


@register_task
class GREC(Task):
    name = "grec"
    grounds = True
    metric_names = ("acc50", "n_acc", "t_acc")
    prompt_templates = (
        "Find every {phrase}, or say none.",
        "Give boxes for all objects matching: {phrase}.",
        "Locate all of {phrase} (there may be none).",
        "Box each {phrase} in the image, or answer none if there is none.",
    )

    def build_answer(self, targets: Targets, image_sizes: Sequence[Size], grammar: SequenceGrammar) -> str:
        head = phrase(targets.labels[0]) if targets.labels else ""
        if not targets.boxes:
            return head + "<none>"
        return head + "".join(encode_box(b, image_sizes[0], grammar) for b in targets.boxes)

    def read(self, res: ParseResult, image_sizes: Sequence[Size]) -> Prediction:
        return spans_to_prediction(res, image_sizes, ("box",))

    def score(self, golds: list[Record], preds: list[Prediction]) -> dict[str, float]:
        from ..metrics.grounding import grec_metrics

        self.check_aligned(golds, preds)
        out = grec_metrics([p.boxes for p in preds], [g.targets.boxes or [] for g in golds])
        return {"acc50": out["f1_acc50"], "n_acc": out["n_acc"], "t_acc": out["t_acc"]}

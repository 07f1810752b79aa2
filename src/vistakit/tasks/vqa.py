"""``vqa``: answer a question about the image. Answer: plain text; scored by exact match (normalised) against
any reference in ``targets.answers``."""

from __future__ import annotations

from ..data.record import Record
from .base import Prediction, register_task
from .common import TextAnswerTask


@register_task
class VQA(TextAnswerTask):
    name = "vqa"
    metric_names = ("accuracy",)
    prompt_templates = (
        "{question}",
        "Question: {question} Answer with a word or a short phrase.",
        "{question} Answer briefly.",
    )

    def score(self, golds: list[Record], preds: list[Prediction]) -> dict[str, float]:
        from ..metrics.vqa import vqa_accuracy

        self.check_aligned(golds, preds)
        return {"accuracy": vqa_accuracy([p.text for p in preds], [g.targets.answers or [] for g in golds])}

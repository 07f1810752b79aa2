"""``vqa``: answer a question about the image. Scored by exact match (normalised) against any reference in
``targets.answers``.

Answer: plain text (``targets.answers[0]``) — or, when the record's targets also list the question's referents
(``boxes`` with their ``labels``: the objects the question names, e.g. ShapesWorld's ``--cite-referents vqa``), a
grounded answer that cites them first and then answers: ``<p>red circle</p><box>…</box><p>star</p><box>…</box>
yes`` (consecutive boxes with one label share one phrase). The model localizes what it is asked about before it
answers, as in grounded chain-of-thought (Shikra); measured on ShapesWorld in docs/experiments.md.
The parser's ``text`` is what follows the last cited region (the whole text when there is none); the cited
boxes come back in ``boxes`` / ``labels``.
"""

from __future__ import annotations

from typing import Sequence

from ..data.record import Record, Targets
from ..geometry import SequenceGrammar
from ..geometry.sequence import ParseResult
from .base import Prediction, register_task
from .common import Size, TextAnswerTask, cite_regions, spans_to_prediction, text_after_regions


@register_task
class VQA(TextAnswerTask):
    name = "vqa"
    metric_names = ("accuracy",)
    prompt_templates = (
        "{question}",
        "Question: {question} Answer with a word or a short phrase.",
        "{question} Answer briefly.",
    )

    orders_referents = True  # targets.labels: the question's phrases, in question order

    def grounds_record(self, record: Record) -> bool:
        return bool(record.targets.boxes)  # the question's referents: what it names

    def build_answer(self, targets: Targets, image_sizes: Sequence[Size], grammar: SequenceGrammar) -> str:
        answer = super().build_answer(targets, image_sizes, grammar)
        if not targets.boxes:
            return answer
        return cite_regions(targets, image_sizes[:1], grammar, self.name) + " " + answer

    def parse(self, text: str, image_sizes: Sequence[Size], grammar: SequenceGrammar, painted=None) -> Prediction:
        pred = super().parse(text, image_sizes, grammar)  # never raises; reads the cited boxes
        if isinstance(text, str):
            pred.text = text_after_regions(text, grammar)
        return pred

    def read(self, res: ParseResult, image_sizes: Sequence[Size]) -> Prediction:
        return spans_to_prediction(res, image_sizes, ("box",))

    def score(self, golds: list[Record], preds: list[Prediction]) -> dict[str, float]:
        from ..metrics.vqa import vqa_accuracy

        self.check_aligned(golds, preds)
        return {"accuracy": vqa_accuracy([p.text for p in preds], [g.targets.answers or [] for g in golds])}

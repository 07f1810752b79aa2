"""``nlvr`` (natural-language visual reasoning over an image pair): is the statement true of the two images?

Answer: ``true`` or ``false`` (``targets.answers[0]``). When the record's targets also list what the statement
names (``boxes`` + ``labels`` + ``image_ids``, possibly none: ShapesWorld's ``--cite-referents nlvr``), the answer
first cites it image by image, then judges: ``<img_0><p>square</p><box>…</box><box>…</box><img_1><none> true``.
The parser reads the first true/false-like word after the last cited region; cited boxes come back in ``boxes``.
"""

from __future__ import annotations

import re
from typing import Sequence

from ..data.record import Record, Targets
from ..geometry import SequenceGrammar
from ..geometry.sequence import ParseResult
from .base import Prediction, Task, register_task
from .common import Size, cite_regions, spans_to_prediction, text_after_regions

_WORDS = {"true": "true", "yes": "true", "false": "false", "no": "false"}


@register_task
class NLVR(Task):
    name = "nlvr"
    metric_names = ("accuracy",)
    num_images = 2
    prompt_templates = (
        "True or false: {statement}",
        "Is this statement about the two images true? {statement}",
        "{statement} Answer true or false.",
    )

    def grounds_record(self, record: Record) -> bool:
        return record.targets.boxes is not None  # what the statement names, in each image (maybe nothing)

    def build_answer(self, targets: Targets, image_sizes: Sequence[Size], grammar: SequenceGrammar) -> str:
        answer = (targets.answers or [""])[0].strip().lower()
        if answer not in ("true", "false"):
            raise ValueError(f"task 'nlvr' needs targets.answers[0] 'true' or 'false', got {answer!r}")
        if targets.boxes is None:
            return answer
        return cite_regions(targets, image_sizes, grammar, self.name) + " " + answer

    def parse(self, text: str, image_sizes: Sequence[Size], grammar: SequenceGrammar, painted=None) -> Prediction:
        pred = super().parse(text, image_sizes, grammar)  # never raises; reads any cited boxes
        if not isinstance(text, str):
            return pred
        tail = text_after_regions(text, grammar)
        verdict = next((_WORDS[w] for w in re.findall(r"[a-z]+", tail.lower()) if w in _WORDS), None)
        if verdict is None:
            pred.text = tail
            pred.problems.append(f"no true/false in the answer {tail[:40]!r}")
        else:
            pred.text = verdict
        return pred

    def read(self, res: ParseResult, image_sizes: Sequence[Size]) -> Prediction:
        return spans_to_prediction(res, image_sizes, ("box",))

    def score(self, golds: list[Record], preds: list[Prediction]) -> dict[str, float]:
        from ..metrics.selection import accuracy

        self.check_aligned(golds, preds)
        gold = [(g.targets.answers or [""])[0].strip().lower() == "true" for g in golds]
        pred = [{"true": True, "false": False}.get(p.text) for p in preds]
        return {"accuracy": accuracy(pred, gold)}

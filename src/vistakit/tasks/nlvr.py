"""``nlvr`` (natural-language visual reasoning over an image pair): is the statement true of the two images?

Answer: ``true`` or ``false`` (``targets.answers[0]``). The parser reads the first yes/no-like word.
"""

from __future__ import annotations

import re
from typing import Sequence

from ..data.record import Record, Targets
from ..geometry import SequenceGrammar
from ..geometry.sequence import ParseResult
from .base import Prediction, Task, register_task
from .common import Size

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

    def build_answer(self, targets: Targets, image_sizes: Sequence[Size], grammar: SequenceGrammar) -> str:
        answer = (targets.answers or [""])[0].strip().lower()
        if answer not in ("true", "false"):
            raise ValueError(f"task 'nlvr' needs targets.answers[0] 'true' or 'false', got {answer!r}")
        return answer

    def read(self, res: ParseResult, image_sizes: Sequence[Size]) -> Prediction:
        for word in re.findall(r"[a-z]+", res.text.lower()):
            if word in _WORDS:
                return Prediction(text=_WORDS[word])
        return Prediction(text=res.text, problems=[f"no true/false in the answer {res.text[:40]!r}"])

    def score(self, golds: list[Record], preds: list[Prediction]) -> dict[str, float]:
        from ..metrics.selection import accuracy

        self.check_aligned(golds, preds)
        gold = [(g.targets.answers or [""])[0].strip().lower() == "true" for g in golds]
        pred = [{"true": True, "false": False}.get(p.text) for p in preds]
        return {"accuracy": accuracy(pred, gold)}

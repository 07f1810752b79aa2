"""``generate`` (text-to-image): the answer is the routing token ``[GEN]``; the scene spec to render lives in the
record's ``meta`` and the image comes from the super-link image decoder. Scored by ``accuracy``: the fraction of
answers that route to the generator.
"""

from __future__ import annotations

from typing import Sequence

from ..data.record import Record, Targets
from ..geometry import SequenceGrammar
from ..geometry.sequence import ParseResult
from .base import Prediction, Task, register_task
from .common import Size

GEN = "[GEN]"


class RouteToGenerator(Task):
    """Shared by ``generate`` and ``edit``: answer ``[GEN]``."""

    metric_names = ("accuracy",)

    def build_answer(self, targets: Targets, image_sizes: Sequence[Size], grammar: SequenceGrammar) -> str:
        return GEN

    def read(self, res: ParseResult, image_sizes: Sequence[Size]) -> Prediction:
        routed = any(s.kind == "route" and s.token == GEN for s in res.spans)
        return Prediction(text=GEN if routed else res.text, problems=[] if routed else ["the answer has no [GEN]"])

    def score(self, golds: list[Record], preds: list[Prediction]) -> dict[str, float]:
        self.check_aligned(golds, preds)
        hits = [p.text == GEN for p in preds]
        return {"accuracy": sum(hits) / len(hits) if hits else float("nan")}


@register_task
class Generate(RouteToGenerator):
    name = "generate"
    num_images = 0  # text to image: the prompt shows no image
    prompt_templates = (
        "Generate an image of {description}.",
        "Draw {description}.",
        "Create a picture showing {description}.",
    )

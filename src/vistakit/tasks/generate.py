"""``generate`` (text-to-image): the answer is the routing token ``[GEN]``; the scene spec the prompt describes
lives in the record's ``meta`` and the image comes from the super-link image decoder.

Scored by ``accuracy`` (the fraction of answers that route to the generator) and, for predictions that carry the
generated image and records that keep their scene spec (ShapesWorld), by GenEval-style checks of the image
(:mod:`vistakit.metrics.geneval`): ``object_acc``, ``count_acc``, ``colour_acc``, ``position_acc`` and ``geneval``
(all four at once), each the fraction of images that pass. A record without an image scores 0 on those; a file
with no images at all scores NaN.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..data.record import Record, Targets
from ..data.shapesworld.check import check_generated
from ..data.shapesworld.scene import Scene
from ..geometry import SequenceGrammar
from ..geometry.sequence import ParseResult
from .base import Prediction, Task, register_task
from .common import Size

GEN = "[GEN]"
GENEVAL_METRICS = {"geneval": "overall", "object_acc": "object", "count_acc": "count", "colour_acc": "colour",
                   "position_acc": "position"}  # fmt: skip


class RouteToGenerator(Task):
    """Shared by ``generate`` and ``edit``: answer ``[GEN]``."""

    metric_names: tuple[str, ...] = ("accuracy",)

    def build_answer(self, targets: Targets, image_sizes: Sequence[Size], grammar: SequenceGrammar) -> str:
        return GEN

    def read(self, res: ParseResult, image_sizes: Sequence[Size]) -> Prediction:
        routed = any(s.kind == "route" and s.token == GEN for s in res.spans)
        return Prediction(text=GEN if routed else res.text, problems=[] if routed else ["the answer has no [GEN]"])

    def score(self, golds: list[Record], preds: list[Prediction]) -> dict[str, float]:
        self.check_aligned(golds, preds)
        hits = [p.text == GEN for p in preds]
        out = {"accuracy": sum(hits) / len(hits) if hits else float("nan")}
        out.update(self.score_images(golds, preds))
        return out

    def score_images(self, golds: list[Record], preds: list[Prediction]) -> dict[str, float]:
        """Metrics of the produced images (none here)."""
        return {}


def scene_of(record: Record, key: str) -> Scene:
    """The scene spec a ShapesWorld generate/edit record keeps in ``meta[key]``."""
    if key not in record.meta:
        raise ValueError(f"record {record.id!r} has no meta.{key} scene spec to check its image against")
    return Scene.from_json(record.meta[key])


@register_task
class Generate(RouteToGenerator):
    name = "generate"
    num_images = 0  # text to image: the prompt shows no image
    metric_names = ("accuracy", *GENEVAL_METRICS)
    prompt_templates = (
        "Generate an image of {description}.",
        "Draw {description}.",
        "Create a picture showing {description}.",
    )

    def score_images(self, golds: list[Record], preds: list[Prediction]) -> dict[str, float]:
        pairs = [(g, p) for g, p in zip(golds, preds) if "scene" in g.meta]
        if not pairs or not any(p.images for _, p in pairs):
            return {k: float("nan") for k in GENEVAL_METRICS}
        checks = [check_generated(p.images[0], scene_of(g, "scene")) if p.images else None for g, p in pairs]
        return {k: float(np.mean([bool(c and c[v]) for c in checks])) for k, v in GENEVAL_METRICS.items()}

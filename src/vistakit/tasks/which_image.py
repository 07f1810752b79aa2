"""``which_image``: which of several images matches the description? Answer: ``<img_k>`` (0-based).

Targets: ``image_ids`` [k] (the picked image). The prompt labels images from 1 ("Image 1:" is index 0), and so does
what a user reads: the prediction's ``text`` says "Image k+1" (:func:`image_name`), while ``image_ids`` stays the
0-based index into the sample's images (as the grammar, the records and the metrics count them).
"""

from __future__ import annotations

from typing import Sequence

from ..data.record import Record, Targets
from ..geometry import SequenceGrammar
from ..geometry.sequence import ParseResult
from .base import Prediction, Task, register_task
from .common import Size, image_name, image_tag


@register_task
class WhichImage(Task):
    name = "which_image"
    metric_names = ("accuracy",)
    num_images = None
    prompt_templates = (
        "Which image shows {phrase}?",
        "In which image is {phrase}? Answer with the image.",
        "Pick the image that contains {phrase}.",
    )

    def build_answer(self, targets: Targets, image_sizes: Sequence[Size], grammar: SequenceGrammar) -> str:
        ids = targets.image_ids or []
        if len(ids) != 1:
            raise ValueError(f"task 'which_image' needs exactly one target image_id, got {ids}")
        return image_tag(ids[0])

    def read(self, res: ParseResult, image_sizes: Sequence[Size]) -> Prediction:
        picked = [k for k in res.images if k < len(image_sizes)]
        problems = [] if picked else ["the answer names no image of the sample"]
        text = res.text.strip() or (image_name(picked[0]) if picked else "")  # the grammar's <img_0> is "Image 1"
        return Prediction(text=text, image_ids=picked[:1], problems=problems)

    def score(self, golds: list[Record], preds: list[Prediction]) -> dict[str, float]:
        from ..metrics.selection import image_selection_accuracy

        self.check_aligned(golds, preds)
        pred = [p.image_ids[0] if p.image_ids else None for p in preds]
        return {"accuracy": image_selection_accuracy(pred, [(g.targets.image_ids or [-1])[0] for g in golds])}

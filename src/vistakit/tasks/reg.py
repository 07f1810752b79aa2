"""``reg`` (region captioning / referring-expression generation): describe the region given as a visual prompt
(``<region>`` in the prompt, a box / point / mask in ``visual_prompts``). Answer: plain text.

A record whose targets give the described region (``boxes`` / ``masks``, as ShapesWorld's and the Visual Genome
converter's do) grounds: that region is what the instruction names, so it teaches the image tokenizer's relevance
map to follow the visual prompt."""

from __future__ import annotations

from ..data.record import Record
from .base import register_task
from .common import TextAnswerTask


@register_task
class RegionCaption(TextAnswerTask):
    name = "reg"
    metric_names = ("cider", "meteor")
    prompt_templates = (
        "Describe the region <region>.",
        "What is in <region>? Answer with a short phrase.",
        "Write an expression that refers to the object at <region>.",
        "Give a short description of <region>.",
    )

    def grounds_record(self, record: Record) -> bool:
        return bool(record.targets.boxes or record.targets.masks)  # the prompted region, when the record gives it

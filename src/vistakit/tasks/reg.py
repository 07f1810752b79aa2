"""``reg`` (region captioning / referring-expression generation): describe the region given as a visual prompt
(``<region>`` in the prompt, a box / point / mask in ``visual_prompts``). Answer: plain text."""

from __future__ import annotations

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

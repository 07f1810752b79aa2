"""``caption``: describe the image in a sentence. Answer: plain text (``targets.answers[0]``)."""

from __future__ import annotations

from .base import register_task
from .common import TextAnswerTask


@register_task
class Caption(TextAnswerTask):
    name = "caption"
    metric_names = ("cider", "meteor", "bleu4", "rouge_l")
    prompt_templates = (
        "Describe the image briefly.",
        "Write a short caption for this image.",
        "What does this image show? Answer in one sentence.",
        "Give a one-sentence description of the picture.",
    )

"""``edit`` (instruction-based image editing): the answer is ``[GEN]``; the edit's scene spec lives in ``meta``."""

from __future__ import annotations

from .base import register_task
from .generate import RouteToGenerator


@register_task
class Edit(RouteToGenerator):
    name = "edit"
    prompt_templates = (
        "Edit the image: {instruction}",
        "{instruction}",
        "Change the picture as follows: {instruction}",
    )

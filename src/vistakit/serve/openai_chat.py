"""OpenAI chat completions ⇄ vistakit: a chat request → one :class:`vistakit.Request`, a result → the OpenAI
response with the typed results beside the text.

Which messages count: the model answers single questions (it was not trained on conversations), so the
**last message** is the question and must come from the user; system / developer messages and earlier turns
are accepted and not shown to the model.

Its content → prompt: text parts in order, each ``image_url`` part an ``<image>`` placeholder in place (a text
part is followed by a space before an image, an image by a newline: ``"Image 1:", img, "Image 2:", img, "Same
shape?"`` becomes the trained layout ``Image 1: <image>\\nImage 2: <image>\\nSame shape?``). When every image
comes before or after all the text, the images go in front in the trained layout instead (one: ``<image>\\n``;
several: ``Image k: <image>\\n`` each), so the common "question, then image" order works too.

The response: ``choices[0].message.content`` is the answer with location tokens removed (the raw answer when
that leaves nothing, e.g. ``<none>``); ``choices[0].message.annotations`` is one
``{"type": "vistakit_prediction", "vistakit_prediction": Result.to_json()}``; ``usage`` counts prompt tokens
(image slots included) and answer tokens.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from ..api import Result, full_prompt
from ..data.record import IMAGE_PLACEHOLDER
from .errors import RequestError
from .requests import Checked, build_request
from .schemas import ChatRequest, TextPart
from .settings import ServeSettings


def chat_prompt(body: ChatRequest) -> tuple[list[tuple[str, str]], str]:
    """The last message → ((image URL, param naming it) per image, prompt with ``<image>`` placeholders)."""
    i = len(body.messages) - 1
    last = body.messages[i]
    if last.role != "user":
        raise RequestError(f"the last message must be the user's question (role 'user'), got role {last.role!r}",
                           param=f"messages.{i}.role", code="invalid_messages")  # fmt: skip
    if last.content is None:
        raise RequestError("the user message has no content", param=f"messages.{i}.content", code="empty_prompt")
    parts = [TextPart(type="text", text=last.content)] if isinstance(last.content, str) else last.content
    images: list[tuple[str, str]] = []
    pieces: list[str | None] = []  # text, or None for an image
    for j, part in enumerate(parts):
        if isinstance(part, TextPart):
            if IMAGE_PLACEHOLDER in part.text:
                raise RequestError(f"text parts must not contain {IMAGE_PLACEHOLDER}; send each image as an "
                                   f"image_url part", param=f"messages.{i}.content.{j}.text", code="invalid_prompt")  # fmt: skip
            if part.text.strip():
                pieces.append(part.text.strip())
        else:
            images.append((part.image_url.url, f"messages.{i}.content.{j}.image_url.url"))
            pieces.append(None)
    text_at = [k for k, p in enumerate(pieces) if p is not None]
    if not text_at or not any(
        p is None and text_at[0] < k < text_at[-1] for k, p in enumerate(pieces)
    ):  # no image amid text
        return images, full_prompt("\n".join(p for p in pieces if p is not None), len(images))
    prompt = ""
    for k, p in enumerate(pieces):
        follows_text = k > 0 and pieces[k - 1] is not None
        prompt += ("" if k == 0 else " " if p is None and follows_text else "\n") + (p or IMAGE_PLACEHOLDER)
    return images, prompt


def from_chat(body: ChatRequest, settings: ServeSettings, max_images: int) -> Checked:
    """A chat completion request → a checked vistakit request (see the module docstring for the rules)."""
    if body.stream:
        raise RequestError("streaming is not supported; send stream=false", param="stream", code="unsupported")
    images, prompt = chat_prompt(body)
    max_new = body.max_completion_tokens if body.max_completion_tokens is not None else body.max_tokens
    return build_request(
        images, prompt, settings=settings, max_images=max_images, regions=body.regions, task=body.task,
        max_new_tokens=max_new, num_beams=body.num_beams, constrained=body.constrained,
        prompt_param=f"messages.{len(body.messages) - 1}.content",
    )  # fmt: skip


def chat_completion(result: Result, model: str) -> dict[str, Any]:
    """The OpenAI ``chat.completion`` object for ``result``."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{
            "index": 0,
            "message": {
                "role": "assistant",
                "content": result.text or result.answer,
                "annotations": [{"type": "vistakit_prediction", "vistakit_prediction": result.to_json()}],
            },
            "finish_reason": result.finish_reason,
            "logprobs": None,
        }],
        "usage": {
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "total_tokens": result.prompt_tokens + result.completion_tokens,
        },
    }  # fmt: skip

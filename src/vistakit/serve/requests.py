"""HTTP request bodies → checked :class:`vistakit.Request` objects, the cheap checks first (counts and lengths,
then the image headers), so a bad request costs little and never reaches the batch; then, holding their pixels
in the server's :class:`PixelBudget`, the decode, :meth:`Vista.prepare` and the reduction of each image to the
model's resolution, so a request holds its full-size images only for as long as that takes."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

import cv2

from ..api import Prepared, Request, Vista
from ..data.record import VisualPrompt
from ..geometry import ImageTransform
from ..tasks import task_names
from .errors import RequestError
from .images import header_pixels, image_bytes, read_image_bytes
from .pixel_budget import BudgetSpent, PixelBudget
from .schemas import PredictRequest, Region
from .settings import ServeSettings


@dataclasses.dataclass
class Checked:
    """A request that passed every check short of decoding its images: their encoded bytes (with the param
    naming each), the pixels decoding them costs (from their headers), and the other fields of the request."""

    encoded: list[tuple[bytes, str]]
    pixels: int
    fields: dict[str, Any]

    def decode(self, settings: ServeSettings) -> Request:
        """The :class:`vistakit.Request`, its images decoded (a 400 naming a corrupt or truncated one)."""
        arrays = [read_image_bytes(data, settings, param) for data, param in self.encoded]
        return Request(arrays, **self.fields)


def build_request(
    images: Sequence[tuple[str, str]],
    prompt: str,
    *,
    settings: ServeSettings,
    max_images: int,
    regions: Sequence[Region] = (),
    task: str | None = None,
    max_new_tokens: int | None = None,
    num_beams: int = 1,
    constrained: bool = True,
    prompt_param: str = "prompt",
    allow_bare_base64: bool = False,
) -> Checked:
    """``images``: (reference, param naming it) pairs; the rest as in :class:`vistakit.Request`. Raises
    :class:`RequestError` (400) naming the first problem. Nothing is decoded yet (see :func:`prepare`)."""
    if len(prompt) > settings.max_prompt_chars:
        raise RequestError(f"the prompt has {len(prompt)} characters; the limit is {settings.max_prompt_chars}",
                           param=prompt_param, code="prompt_too_long")  # fmt: skip
    lone = next((k for k, ch in enumerate(prompt) if "\ud800" <= ch <= "\udfff"), None)
    if lone is not None:  # JSON may escape half a UTF-16 pair ("\ud800"); it is no character the model can read
        raise RequestError(f"the prompt has a lone UTF-16 surrogate (\\u{ord(prompt[lone]):04x}) at character {lone}; "
                           f"expected valid Unicode text", param=prompt_param, code="invalid_prompt")  # fmt: skip
    if not prompt.strip():
        raise RequestError("the prompt is empty; ask a question about the image(s)", param=prompt_param,
                           code="empty_prompt")  # fmt: skip
    if len(images) > max_images:
        raise RequestError(f"{len(images)} images in one request; the limit is {max_images}", param="images",
                           code="too_many_images")  # fmt: skip
    if len(regions) > settings.max_regions:
        raise RequestError(f"{len(regions)} regions in one request; the limit is {settings.max_regions}",
                           param="regions", code="too_many_regions")  # fmt: skip
    if task is not None and task not in task_names():
        raise RequestError(f"unknown task {task!r}; known: {', '.join(task_names())} (or null: read every location)",
                           param="task", code="unknown_task")  # fmt: skip
    new_tokens = settings.default_new_tokens if max_new_tokens is None else max_new_tokens
    if new_tokens > settings.max_new_tokens:
        raise RequestError(f"max_new_tokens {new_tokens} is above this server's limit of {settings.max_new_tokens}",
                           param="max_new_tokens", code="too_many_tokens")  # fmt: skip
    if num_beams > settings.max_beams:
        raise RequestError(f"num_beams {num_beams} is above this server's limit of {settings.max_beams}",
                           param="num_beams", code="too_many_beams")  # fmt: skip
    encoded = [(image_bytes(ref, settings, param, allow_bare_base64), param) for ref, param in images]
    pixels = sum(header_pixels(data, settings, param) for data, param in encoded)
    fields = {"prompt": prompt, "task": task, "regions": [r.model_dump(mode="json") for r in regions],
              "max_new_tokens": new_tokens, "num_beams": num_beams, "constrained": constrained}  # fmt: skip
    return Checked(encoded, pixels, fields)


def from_predict(body: PredictRequest, settings: ServeSettings, max_images: int) -> Checked:
    """A ``POST /v1/predict`` body → a request (images as data URLs or bare base64)."""
    return build_request(
        [(ref, f"images.{k}") for k, ref in enumerate(body.images)], body.prompt, settings=settings,
        max_images=max_images, regions=body.regions, task=body.task, max_new_tokens=body.max_new_tokens,
        num_beams=body.num_beams, constrained=body.constrained, allow_bare_base64=True,
    )  # fmt: skip


def prepare(vista: Vista, checked: Checked, settings: ServeSettings, budget: PixelBudget | None = None) -> Prepared:
    """Decode and :meth:`Vista.prepare` a checked request while holding its pixels in ``budget`` (503 with
    ``Retry-After`` when they stay in use), then reduce its images to the model's resolution. The refusals of
    :meth:`Vista.prepare` (wrong placeholder counts, a prompt too long for the model, a region off its image, …)
    are 400s."""
    try:
        with budget.reserve(checked.pixels) if budget is not None else nullcontext():
            request = checked.decode(settings)
            try:
                prepared = vista.prepare(request, "request")
            except KeyError as exc:
                raise RequestError(str(exc.args[0] if exc.args else exc), code="invalid_request") from None
            except (ValueError, TypeError, FileNotFoundError) as exc:
                raise RequestError(str(exc), code="invalid_request") from None
            del request  # the full-size images go with it and with the prepared request reduced below
            return at_model_size(prepared, int(vista.engine.model.config.canvas))
    except BudgetSpent as exc:
        raise RequestError(f"the server is busy decoding other images: {exc}; retry later", status=503,
                           code="overloaded", headers={"Retry-After": "1"}) from None  # fmt: skip


def at_model_size(prepared: Prepared, canvas: int) -> Prepared:
    """``prepared`` with each image larger than the ``canvas`` reduced to the size the processor resizes it to
    (the same ``cv2.INTER_AREA`` resize, so the model sees the very same pixels) and its box / point regions
    scaled alike; ``image_sizes`` stay the originals, so results are still in original pixels. An image a mask
    region lies on keeps its size (the mask is encoded at its resolution). The result holds kilobytes per image
    instead of megabytes; it is not for :meth:`vistakit.Result.draw` (the images are the model's)."""
    masked = {vp.image for vp in prepared.regions if vp.type == "mask"}
    images, scales = [], []
    for k, (arr, (w, h)) in enumerate(zip(prepared.images, prepared.image_sizes)):
        if k in masked or max(w, h) <= canvas:
            images.append(arr)
            scales.append(1.0)
            continue
        t = ImageTransform.fit((w, h), canvas)
        images.append(cv2.resize(arr, t.resized_size, interpolation=cv2.INTER_AREA))
        scales.append(t.scale)
    if all(s == 1.0 for s in scales):
        return prepared
    regions = [_scaled(vp, scales[vp.image]) for vp in prepared.regions]
    return dataclasses.replace(prepared, images=images, regions=regions)


def _scaled(vp: VisualPrompt, s: float) -> VisualPrompt:
    if s == 1.0 or vp.type == "mask":
        return vp
    if vp.type == "box" and vp.box is not None:
        return dataclasses.replace(vp, box=[v * s for v in vp.box])
    if vp.type == "point" and vp.point is not None:
        return dataclasses.replace(vp, point=[v * s for v in vp.point])
    return vp

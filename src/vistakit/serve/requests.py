"""HTTP request bodies → checked :class:`vistakit.Request` objects, the cheap checks first (counts and lengths,
then the image headers, then the decode), so a bad request costs little and never reaches the batch."""

from __future__ import annotations

from collections.abc import Sequence

from ..api import Prepared, Request, Vista
from ..tasks import task_names
from .errors import RequestError
from .images import load_image
from .schemas import PredictRequest, Region
from .settings import ServeSettings


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
) -> Request:
    """``images``: (reference, param naming it) pairs; the rest as in :class:`vistakit.Request`. Raises
    :class:`RequestError` (400) naming the first problem."""
    if len(prompt) > settings.max_prompt_chars:
        raise RequestError(f"the prompt has {len(prompt)} characters; the limit is {settings.max_prompt_chars}",
                           param=prompt_param, code="prompt_too_long")  # fmt: skip
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
    arrays = [load_image(ref, settings, param, allow_bare_base64) for ref, param in images]
    return Request(
        arrays, prompt, task, [r.model_dump(mode="json") for r in regions], max_new_tokens=new_tokens, num_beams=num_beams,
        constrained=constrained,
    )  # fmt: skip


def from_predict(body: PredictRequest, settings: ServeSettings, max_images: int) -> Request:
    """A ``POST /v1/predict`` body → a request (images as data URLs or bare base64)."""
    return build_request(
        [(ref, f"images.{k}") for k, ref in enumerate(body.images)], body.prompt, settings=settings,
        max_images=max_images, regions=body.regions, task=body.task, max_new_tokens=body.max_new_tokens,
        num_beams=body.num_beams, constrained=body.constrained, allow_bare_base64=True,
    )  # fmt: skip


def prepare(vista: Vista, request: Request) -> Prepared:
    """:meth:`Vista.prepare` with its refusals (wrong placeholder counts, a prompt too long for the model, a
    region off its image, …) as 400s."""
    try:
        return vista.prepare(request, "request")
    except KeyError as exc:
        raise RequestError(str(exc.args[0] if exc.args else exc), code="invalid_request") from None
    except (ValueError, TypeError, FileNotFoundError) as exc:
        raise RequestError(str(exc), code="invalid_request") from None

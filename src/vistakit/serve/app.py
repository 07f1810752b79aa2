"""The HTTP API of ``vistakit serve``: decode the request → batched predict → encode the response.

    app = create_app(Vista.from_pretrained(), ServeSettings(max_batch_size=16, max_wait_ms=10))
    uvicorn.run(app, host="127.0.0.1", port=8000)

Routes: ``POST /v1/chat/completions`` (OpenAI-compatible), ``POST /v1/predict`` (plain JSON), ``GET /v1/models``,
``GET /v1/tasks``, ``GET /health``, ``/openapi.json`` + ``/docs``, and the web page (``/`` and ``/static/…``).
Decoding and checking run in worker threads, generation in the batcher's thread: the event loop only routes.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from .. import __version__
from ..api import Result, Vista
from ..tasks import get_task, task_names
from .batching import Batcher, QueueFull
from .body_limit import BodyLimit
from .errors import RequestError, install_error_handlers
from .openai_chat import chat_completion, from_chat
from .pixel_budget import PixelBudget
from .requests import Checked, from_predict, prepare
from .schemas import (
    ChatCompletion,
    ChatRequest,
    ErrorResponse,
    Health,
    ModelList,
    PredictRequest,
    PredictResponse,
    TaskList,
)
from .settings import ServeSettings

STATIC = Path(__file__).resolve().parent / "static"
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "a bad request: broken JSON, a bad image, a limit exceeded, …"},
    413: {"model": ErrorResponse, "description": "the request body is too large"},
    422: {"model": ErrorResponse, "description": "the body does not match the schema"},
    503: {"model": ErrorResponse, "description": "too many requests waiting, or too many image pixels being decoded; "
                                              "retry later (Retry-After)"},
}


def create_app(vista: Vista, settings: ServeSettings | None = None) -> FastAPI:
    """The FastAPI app serving ``vista`` under ``settings`` (defaults: :class:`ServeSettings`)."""
    settings = settings or ServeSettings()
    model_name = settings.model_name or vista.name
    max_images = min(settings.max_images, vista.max_images)
    created = int(time.time())
    budget = PixelBudget(settings.max_decoded_pixels, settings.pixel_wait_s)
    batcher: Batcher = Batcher(vista.run, settings.max_batch_size, settings.max_wait_ms, settings.max_queue)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await batcher.start()
        try:
            yield
        finally:
            await batcher.stop()

    app = FastAPI(
        title="vistakit", version=__version__, lifespan=lifespan,
        description="One vision-language model for captions, questions, boxes, masks and points. Coordinates are "
                    "pixels of the original images; masks are COCO RLE. Errors: {error: {message, type, param, code}}.",
    )  # fmt: skip
    app.state.vista, app.state.settings, app.state.batcher, app.state.pixel_budget = vista, settings, batcher, budget
    app.add_middleware(BodyLimit, max_body_bytes=settings.max_body_bytes)
    install_error_handlers(app)

    async def answer(check: Callable[[], Checked]) -> Result:
        prepared = await run_in_threadpool(lambda: prepare(vista, check(), settings, budget))
        try:
            return await batcher.submit(prepared)
        except QueueFull as exc:
            raise RequestError(f"the server is busy: {exc}; retry later", status=503, code="overloaded",
                               headers={"Retry-After": "1"}) from None

    chat_errors = {**ERRORS, 404: {"model": ErrorResponse, "description": "the model named is not served here"}}

    @app.post("/v1/chat/completions", response_model=ChatCompletion, responses=chat_errors, tags=["openai"])
    async def chat_completions(body: ChatRequest) -> dict[str, Any]:
        """OpenAI-compatible: the last user message's text and ``image_url`` parts (data URLs) → the answer in
        ``choices[0].message.content`` and the typed results in ``choices[0].message.annotations``."""
        if body.model != model_name:
            raise RequestError(f"model {body.model!r} is not served here; this server serves {model_name!r}",
                               status=404, param="model", code="model_not_found")  # fmt: skip
        result = await answer(lambda: from_chat(body, settings, max_images))
        return chat_completion(result, model_name)

    @app.post("/v1/predict", response_model=PredictResponse, responses=ERRORS, tags=["vistakit"])
    async def predict(body: PredictRequest) -> dict[str, Any]:
        """Images (data URLs or base64) + a prompt [+ task, regions] → the typed result in original pixels."""
        result = await answer(lambda: from_predict(body, settings, max_images))
        return result.to_json()

    @app.get("/v1/models", response_model=ModelList, tags=["openai"])
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": model_name, "object": "model", "created": created,
                                            "owned_by": "vistakit"}]}  # fmt: skip

    @app.get("/v1/tasks", response_model=TaskList, tags=["vistakit"])
    async def tasks() -> dict[str, Any]:
        """The task names a request may give, with their prompt templates ({slot}s to fill in) and whether the
        model was trained on each (``trained``; null when its checkpoint records no training domain)."""
        out = []
        for name in task_names():
            task = get_task(name)
            trained = None if vista.domain is None else name in vista.domain.tasks
            out.append({"name": name, "num_images": task.num_images, "slots": sorted(task.slots),
                        "prompt_templates": list(task.prompt_templates), "trained": trained})  # fmt: skip
        return {"tasks": out}

    @app.get("/health", response_model=Health, tags=["vistakit"])
    async def health() -> dict[str, Any]:
        s = batcher.stats
        return {"status": "ok", "model": model_name, "device": str(vista.engine.device), "batching": {
            "max_batch_size": settings.max_batch_size, "max_wait_ms": settings.max_wait_ms, "queued": batcher.queued,
            "batches": s.batches, "requests": s.requests, "largest_batch": s.largest, "batch_sizes": dict(s.sizes),
        }}  # fmt: skip

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        index = STATIC / "index.html"
        if not index.is_file():
            raise RequestError(f"the web page is not installed ({index} is missing); the API is at /docs",
                               status=404, code="not_found")  # fmt: skip
        return FileResponse(index)

    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")
    return app

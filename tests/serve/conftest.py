"""Fixtures of the server's tests: an untrained micro model behind :class:`vistakit.Vista` (its answers are
noise, so route tests check shapes and statuses), an engine that records its batches, one that answers from a
script (exact geometry), encoded test images, and a real uvicorn server in a thread on a free port."""

from __future__ import annotations

import base64
import io
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from vistakit import Vista
from vistakit.model import Engine, GenerationResult, create_model, make_config

TEXTS = [
    "<image>\nWhere is the red circle?", "<p>red circle</p><box><loc_1><loc_2><loc_5><loc_6></box>",
    "Image 1: <image>\nImage 2: <image>\nWhich image has a star?", "<img_1>", "A red circle left of a square.",
    "<image>\nDescribe the region <region>.", "the purple hexagon",
] * 4  # fmt: skip


class RecordingEngine(Engine):
    """An engine that records the prompts of every generation call (one list per batch)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[list[str]] = []

    def generate(self, images, prompts, visual_prompts=None, **gen):
        self.calls.append(list(prompts))
        return super().generate(images, prompts, visual_prompts, **gen)


class ScriptedEngine(Engine):
    """An engine whose every answer is ``answer`` with location scores ``loc_scores`` (no model run)."""

    answer = "<p>thing</p><box><loc_8><loc_4><loc_24><loc_12></box>"
    loc_scores = (0.8, 0.6, 1.0, 1.0)

    def generate(self, images, prompts, visual_prompts=None, **gen):
        self.processor(images, prompts, visual_prompts=visual_prompts, padding_side="left")  # same checks
        ids = [1] * 10
        return [GenerationResult(self.answer, ids, [0.5] * 10, list(self.loc_scores)) for _ in prompts]


@pytest.fixture(scope="session")
def micro_parts() -> tuple[Any, Any]:
    torch.manual_seed(0)
    model, processor = create_model(make_config("micro"), TEXTS, vocab_size=300)
    return model.eval(), processor


@pytest.fixture
def micro_vista(micro_parts) -> Vista:
    """The micro model (64 bins, 16 px canvas, at most 4 images, 256 positions), recording its batches."""
    return Vista(RecordingEngine(*micro_parts), "micro")


@pytest.fixture
def scripted_vista(micro_parts) -> Vista:
    return Vista(ScriptedEngine(*micro_parts), "scripted")


def _encode(image: Image.Image | np.ndarray, fmt: str = "PNG", **save: Any) -> bytes:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buf = io.BytesIO()
    image.save(buf, fmt, **save)
    return buf.getvalue()


def _data_url(data: bytes, media: str = "image/png") -> str:
    return f"data:{media};base64,{base64.b64encode(data).decode()}"


@pytest.fixture(scope="session")
def encode():
    """``encode(image, fmt="PNG", **save) -> bytes`` (a PIL image or an H×W×3 uint8 array)."""
    return _encode


@pytest.fixture(scope="session")
def data_url():
    """``data_url(data, media="image/png") -> "data:…;base64,…"``."""
    return _data_url


@pytest.fixture(scope="session")
def png() -> bytes:
    """An 80×40 PNG (not square: original pixels differ from the model frame)."""
    return _encode(np.random.default_rng(0).integers(0, 256, (40, 80, 3), dtype=np.uint8))


@pytest.fixture(scope="session")
def png_url(png) -> str:
    return _data_url(png)


@pytest.fixture(scope="session")
def serving():
    """``with serving(app) as base_url:`` runs the app with uvicorn in a thread on a free loopback port."""
    return _serving


@contextmanager
def _serving(app: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread on a free loopback port; yields its base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()

"""The request and response bodies of the HTTP API as pydantic models (they are what ``/openapi.json``
documents). Coordinates are pixels of the original images; masks are COCO RLE."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Coord = Annotated[float, Field(allow_inf_nan=False)]


# --- visual prompts -----------------------------------------------------------------------------------------
class RLE(BaseModel):
    """A COCO run-length-encoded mask of its image."""

    model_config = ConfigDict(extra="forbid")
    size: tuple[int, int] = Field(description="[height, width] of the image")
    counts: str = Field(description="compressed COCO RLE counts")


class BoxRegion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["box"]
    image: int = Field(0, ge=0, description="0-based index of the image the box lies on")
    box: tuple[Coord, Coord, Coord, Coord] = Field(description="x1, y1, x2, y2 in pixels of the original image")


class PointRegion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["point"]
    image: int = Field(0, ge=0, description="0-based index of the image the point lies on")
    point: tuple[Coord, Coord] = Field(description="x, y in pixels of the original image")


class MaskRegion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["mask"]
    image: int = Field(0, ge=0, description="0-based index of the image the mask covers")
    mask: RLE


Region = Annotated[BoxRegion | PointRegion | MaskRegion, Field(discriminator="type")]


# --- /v1/predict --------------------------------------------------------------------------------------------
class PredictRequest(BaseModel):
    """A prompt about images; each region fills a ``<region>`` placeholder (appended when the prompt has none)."""

    model_config = ConfigDict(extra="forbid")
    images: list[str] = Field(description="data URLs (data:image/png;base64,…) or bare base64 of PNG/JPEG/WEBP/BMP")
    prompt: str = Field(description="the question; <image> / <region> placeholders optional")
    task: str | None = Field(
        None, description="parse the answer as this task (GET /v1/tasks); null: read every location"
    )
    regions: list[Region] = Field(default_factory=list, description="visual prompts, in <region> order")
    max_new_tokens: int | None = Field(None, ge=1, description="most answer tokens (default: the server's)")
    num_beams: int = Field(1, ge=1, description="beam search width (1: greedy)")
    constrained: bool = Field(True, description="allow only well-formed location spans")


class KeypointsOut(BaseModel):
    names: list[str]
    xy: list[tuple[float, float]]
    visibility: list[int] = Field(description="COCO: 0 not labelled, 1 occluded, 2 visible")


class PredictResponse(BaseModel):
    """``vistakit.Result.to_json()``: every coordinate in pixels of the original images."""

    text: str = Field(description="the answer with location tokens removed")
    answer: str = Field(description="the raw model answer (sequence grammar)")
    task: str | None
    image_sizes: list[tuple[int, int]] = Field(description="[width, height] per image")
    boxes: list[tuple[float, float, float, float]] = Field(description="x1, y1, x2, y2 per box")
    masks: list[RLE]
    points: list[tuple[float, float]]
    keypoints: list[KeypointsOut]
    image_ids: list[int] = Field(description="the image of each location, or the images the answer picked")
    labels: list[str] = Field(description="the phrase of each location")
    scores: list[float] = Field(description="one confidence per box (or mask) when they line up, else empty")
    loc_scores: list[float] = Field(description="the probability of every location token, in order")
    empty: bool = Field(description="the answer said: no such object")
    problems: list[str] = Field(description="what could not be read from the answer")
    warnings: list[str] = Field(description="why the answer may not be trusted: a task the model was never trained "
                                "on, or an image far outside its training images")


# --- /v1/chat/completions (OpenAI-compatible) ---------------------------------------------------------------
class ImageURL(BaseModel):
    url: str = Field(description="a data URL (file:// only inside the server's allowed folder)")
    detail: str | None = Field(None, description="accepted and ignored")


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ImagePart(BaseModel):
    type: Literal["image_url"]
    image_url: ImageURL


ContentPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_call_id, …: accepted and ignored
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None


class ChatRequest(BaseModel):
    """OpenAI's chat completion request. Sampling options (temperature, top_p, seed, …) are accepted and
    ignored: decoding is greedy or beam search. ``task``, ``regions``, ``num_beams`` and ``constrained`` are
    vistakit extensions (``extra_body`` in the OpenAI client)."""

    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    n: int = Field(1, ge=1, le=1, description="only one choice is generated")
    stream: bool = Field(False, description="streaming is not supported")
    task: str | None = None
    regions: list[Region] = Field(default_factory=list)
    num_beams: int = Field(1, ge=1)
    constrained: bool = True


class PredictionAnnotation(BaseModel):
    type: Literal["vistakit_prediction"]
    vistakit_prediction: PredictResponse


class AssistantMessage(BaseModel):
    role: Literal["assistant"]
    content: str
    annotations: list[PredictionAnnotation] = Field(description="the typed results beside the text")


class Choice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: Literal["stop", "length"]
    logprobs: None = None


class Usage(BaseModel):
    prompt_tokens: int = Field(description="prompt tokens, image slots included")
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[Choice]
    usage: Usage


# --- the rest -----------------------------------------------------------------------------------------------
class ModelCard(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[ModelCard]


class TaskInfo(BaseModel):
    name: str
    num_images: int | None = Field(description="images a prompt of this task shows (null: any number)")
    slots: list[str] = Field(description="the {slot} names its templates use")
    prompt_templates: list[str]
    trained: bool | None = Field(None, description="whether the served model was trained on this task (null: its "
                                 "checkpoint records no training domain)")


class TaskList(BaseModel):
    tasks: list[TaskInfo]


class BatchingInfo(BaseModel):
    max_batch_size: int
    max_wait_ms: float
    queued: int
    batches: int
    requests: int
    largest_batch: int
    batch_sizes: dict[int, int] = Field(description="batch size → how many batches had it")


class Health(BaseModel):
    status: Literal["ok"]
    model: str
    device: str
    batching: BatchingInfo


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(BaseModel):
    error: ErrorDetail

"""The Python API: load a model once, ask it about images, get typed results in pixels of the original images.

    from vistakit import Vista
    vista = Vista.from_pretrained()                  # the shipped reference model, or a checkpoint folder
    result = vista.predict("scene.png", "Where is the red circle?", task="rec")
    result.boxes                                     # N×4 xyxy, pixels of the original image
    result.draw()[0].save("overlay.png")           # one full-resolution overlay per image
    result.to_json()
    results = vista.predict_batch([Request("a.png", "Describe the image."), Request(["b.png", "c.png"], "…")])

A prompt without ``<image>`` placeholders gets one per image in front (``Image k:`` labels when several), as the
task prompts lay them out; regions (a box or point the user drew) fill ``<region>`` placeholders, appended at the
end when the prompt has none. Without a ``task`` every location in the answer is read; with one, its parser.

Serving uses the two halves of :meth:`Vista.predict_batch` separately: :meth:`Vista.prepare` checks one request
against the model without running it (so a bad request fails alone), :meth:`Vista.run` answers many prepared
requests with one batched generation call per generation setting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from .data.domain import TrainingDomain, read_domain
from .data.record import IMAGE_PLACEHOLDER, REGION_PLACEHOLDER, VisualPrompt
from .geometry import Boxes, Frame, Keypoints, Mask, Points, Space
from .paths import REFERENCE_CHECKPOINT

if TYPE_CHECKING:
    from .model import Engine, GenerationResult
    from .tasks import Prediction


ImageInput = str | Path | Image.Image | np.ndarray
RegionInput = VisualPrompt | Mapping[str, Any] | Boxes | Points
GENERATION_DEFAULTS = {"max_new_tokens": 256, "num_beams": 1, "constrained": True}


def full_prompt(prompt: str, n_images: int) -> str:
    """The prompt with one ``<image>`` per image in front when it has none (as the task prompts lay them out)."""
    if IMAGE_PLACEHOLDER in prompt:
        return prompt
    if n_images == 1:
        return f"{IMAGE_PLACEHOLDER}\n{prompt}"
    return "".join(f"Image {k + 1}: {IMAGE_PLACEHOLDER}\n" for k in range(n_images)) + prompt


def with_regions(prompt: str, n_regions: int) -> str:
    """The prompt with one ``<region>`` per region appended when it has none (``vistakit predict``'s rule)."""
    if n_regions and REGION_PLACEHOLDER not in prompt:
        return prompt.rstrip() + " " + " ".join([REGION_PLACEHOLDER] * n_regions)
    return prompt


@dataclass
class Request:
    """One question for :meth:`Vista.predict_batch`.

    ``images``: one image or a list (paths, PIL images or H×W×3 uint8 arrays); ``prompt``: the question
    (``<image>`` / ``<region>`` placeholders optional); ``task``: parse the answer as this task (``None``: read
    every location); ``regions``: visual prompts in original pixels (see :meth:`Vista.predict`); then the
    generation settings (greedy by default; ``constrained`` allows only well-formed location spans).
    """

    images: ImageInput | Sequence[ImageInput]
    prompt: str
    task: str | None = None
    regions: Sequence[RegionInput] | Boxes | Points | None = None
    max_new_tokens: int = GENERATION_DEFAULTS["max_new_tokens"]
    num_beams: int = GENERATION_DEFAULTS["num_beams"]
    constrained: bool = GENERATION_DEFAULTS["constrained"]


@dataclass(frozen=True)
class Prepared:
    """A request checked against the model and ready to batch: RGB arrays, their (W, H) sizes, the full prompt
    (placeholders in), its visual prompts, the task, the generation settings and the prompt's token count
    (image slots included)."""

    images: list[np.ndarray]
    image_sizes: list[tuple[int, int]]
    prompt: str
    regions: list[VisualPrompt]
    task: str | None
    generation: tuple[int, int, bool]  # (max_new_tokens, num_beams, constrained): one batch shares them
    prompt_tokens: int
    warnings: tuple[str, ...] = ()  # an untrained task, images far outside the training domain


@dataclass
class Result:
    """A typed answer, every coordinate in pixels of the original image(s).

    ``text``: the answer with location tokens removed; ``answer``: the raw model text (sequence grammar).
    ``boxes`` N×4 xyxy float64; ``masks`` one :class:`Mask` per mask (H×W of its image); ``points`` M×2 (x, y);
    ``keypoints`` one :class:`Keypoints` per figure; ``image_ids`` the image of each location (without a task:
    one per span, in the order boxes, masks, keypoints, points) or the images an answer picked; ``labels`` the
    phrase of each location; ``scores`` one confidence per box (or mask) when they line up with the answer's
    spans, else empty; ``loc_scores`` the probability of every location token, in order; ``empty`` is True when
    the answer said "no such object"; ``problems`` lists what could not be read; ``warnings`` says why the
    answer may not be trusted: a task the model was never trained on, or an image far outside its training images
    (:mod:`vistakit.data.domain`).
    """

    text: str
    answer: str
    task: str | None
    image_sizes: list[tuple[int, int]]
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    masks: list[Mask] = field(default_factory=list)
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    keypoints: list[Keypoints] = field(default_factory=list)
    image_ids: list[int] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    loc_scores: list[float] = field(default_factory=list)
    empty: bool = False
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    prompt: str = ""
    regions: list[VisualPrompt] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"  # "length" when the answer hit max_new_tokens
    images: list[np.ndarray] = field(default_factory=list, repr=False)  # kept to draw on

    @classmethod
    def from_prediction(cls, pred: Prediction, gen: GenerationResult, prepared: Prepared) -> Result:
        """The result of ``prepared`` from its generation and the parsed prediction."""
        return cls(
            text=pred.text, answer=gen.text, task=prepared.task, image_sizes=list(prepared.image_sizes),
            boxes=pred.boxes, masks=[Mask(a) for a in pred.mask_arrays()], points=pred.points,
            keypoints=list(pred.keypoints), image_ids=[int(k) for k in pred.image_ids], labels=list(pred.labels),
            scores=np.zeros(0) if pred.scores is None else pred.scores, loc_scores=list(gen.loc_scores),
            empty=pred.empty, problems=list(pred.problems), warnings=list(prepared.warnings), prompt=prepared.prompt,
            regions=list(prepared.regions),
            prompt_tokens=prepared.prompt_tokens, completion_tokens=len(gen.token_ids),
            finish_reason="length" if len(gen.token_ids) >= prepared.generation[0] else "stop",
            images=list(prepared.images),
        )  # fmt: skip

    def prediction(self) -> Prediction:
        """This result as a task :class:`~vistakit.tasks.Prediction` (for scoring and the present helpers)."""
        from .tasks import Prediction

        return Prediction(
            text=self.text, boxes=self.boxes, masks=[m.array for m in self.masks], points=self.points,
            scores=self.scores if len(self.scores) else None, image_ids=list(self.image_ids),
            keypoints=list(self.keypoints), labels=list(self.labels), empty=self.empty, problems=list(self.problems),
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """JSON-ready values, every key always present: ``text, answer, task, image_sizes`` ([W, H] each),
        ``boxes, masks`` (COCO RLE ``{"size": [h, w], "counts": str}``), ``points, keypoints``
        (``{"names", "xy", "visibility"}``), ``image_ids, labels, scores, loc_scores, empty, problems, warnings``."""
        from .evaluation.present import prediction_json

        out: dict[str, Any] = {
            "text": self.text, "answer": self.answer, "task": self.task,
            "image_sizes": [[int(w), int(h)] for w, h in self.image_sizes],
            "boxes": [], "masks": [], "points": [], "keypoints": [], "image_ids": [], "labels": [], "scores": [],
            "loc_scores": [round(float(s), 6) for s in self.loc_scores], "empty": self.empty, "problems": [],
        }  # fmt: skip
        out.update(prediction_json(self.prediction()))
        out["warnings"] = list(self.warnings)
        return out

    def draw(self) -> list[Image.Image]:
        """One overlay per input image, at its full resolution: the original pixels with this result's boxes
        (labelled with phrase and score), masks (tinted), points and keypoints that lie on that image drawn on, the
        regions asked about in white, and the images a which-image answer picked framed in green."""
        from .evaluation.present import draw_on_images

        if not self.images:
            raise ValueError("this result holds no images to draw on (it was not made by Vista.predict)")
        return draw_on_images(self.images, self.prediction(), self.regions)


def _image_list(images: Any) -> list[Any]:
    if isinstance(images, (str, Path, Image.Image, np.ndarray)):
        return [images]
    if not isinstance(images, Sequence):
        raise TypeError(f"images must be an image or a list of images, got {type(images).__name__}")
    return list(images)


def _in_original_pixels(geom: Boxes | Points, size: tuple[int, int], where: str) -> Boxes | Points:
    """Typed geometry → absolute pixels of the original image of ``size`` (W, H); refuse other frames/sizes."""
    space = geom.space
    if space.frame is not Frame.ORIGINAL:
        raise ValueError(f"{where}: regions must be in the original image's frame, got {space.describe()}")
    if space.size is not None and space.size != tuple(size):
        raise ValueError(f"{where}: the region is in {space.describe()}, but image 0 is {size[0]}x{size[1]}")
    if not space.normalized:
        return geom
    normalized = Space(Frame.ORIGINAL, tuple(size), normalized=True)
    if isinstance(geom, Boxes):
        return Boxes(geom.xyxy(), normalized).to(normalized=False)
    return Points(geom.xy, normalized).to(normalized=False)


def regions_to_visual_prompts(
    regions: Sequence[RegionInput] | Boxes | Points | None, sizes: Sequence[tuple[int, int]], where: str = "regions"
) -> list[VisualPrompt]:
    """Regions → validated visual prompts in original pixels. Each item is a :class:`VisualPrompt`, its JSON
    (``{"type": "box", "image": k, "box": [x1, y1, x2, y2]}`` / ``"point"`` / ``"mask"``), or typed geometry
    (:class:`Boxes` / :class:`Points`, one region per row, on image 0)."""
    if regions is None:
        return []
    if isinstance(regions, (Boxes, Points)):
        regions = [regions]
    if not isinstance(regions, Sequence) or isinstance(regions, (str, Mapping)):
        raise TypeError(f"{where} must be a list of regions, got {type(regions).__name__}")
    sizes = [tuple(s) for s in sizes]
    out: list[VisualPrompt] = []
    for i, r in enumerate(regions):
        at = f"{where}[{i}]"
        if isinstance(r, VisualPrompt):
            out.append(VisualPrompt.from_json(r.to_json(), at, sizes))
        elif isinstance(r, Mapping):
            out.append(VisualPrompt.from_json(r, at, sizes))
        elif isinstance(r, (Boxes, Points)):
            if not sizes:
                raise ValueError(f"{at}: a region needs an image to lie on, and the request has none")
            geom = _in_original_pixels(r, sizes[0], at)
            if isinstance(geom, Boxes):
                out.extend(VisualPrompt("box", 0, box=b.tolist()) for b in geom.xyxy())
            else:
                out.extend(VisualPrompt("point", 0, point=p.tolist()) for p in geom.xy)
        else:
            raise TypeError(f"{at}: expected a VisualPrompt, its JSON dict, Boxes or Points, got {type(r).__name__}")
    return out


def _generation(request: Request, where: str) -> tuple[int, int, bool]:
    for name in ("max_new_tokens", "num_beams"):
        v = getattr(request, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{where}: {name} must be a positive integer, got {v!r}")
    if not isinstance(request.constrained, bool):
        raise TypeError(f"{where}: constrained must be True or False, got {request.constrained!r}")
    return request.max_new_tokens, request.num_beams, request.constrained


PRECISIONS = ("fp32", "bf16")


class Vista:
    """A loaded model ready to answer: wraps an :class:`~vistakit.model.Engine` (model + processor + device)."""

    # Image files and PIL images above this many pixels are refused from their header, before decoding; set it on
    # an instance (None: $VISTAKIT_MAX_IMAGE_PIXELS when set, else 4096 × 4096, the server's default).
    max_image_pixels: int | None = None

    def __init__(
        self, engine: Engine, name: str = "vistakit", precision: str = "fp32", domain: TrainingDomain | None = None
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        self.engine = engine
        self.name = name
        self.precision = precision
        self.domain = domain  # what the model was trained on (None: the checkpoint records nothing, so no warnings)

    @classmethod
    def from_pretrained(
        cls, path: str | Path | None = None, device: str = "auto", precision: str = "fp32", threads: int | None = None
    ) -> Vista:
        """Load a checkpoint folder (``config.json`` + weights + tokenizer, and ``training_domain.json`` when
        training recorded one; ``None``: the shipped reference model) onto ``device`` (``auto``: CUDA when
        available, else CPU). ``precision``: ``fp32``, or ``bf16`` to run generation under bfloat16 autocast (weights
        stay fp32) — on CPUs with bf16 instructions (AVX-512 BF16, AMX) and on GPUs it makes large batches much
        faster; the reference model was trained under it. ``threads``: on the CPU, torch's thread count for the
        process (default ``$VISTAKIT_THREADS``, else 1: it holds up when other jobs keep the cores busy; see
        :mod:`vistakit.threads`)."""
        import torch

        from .model import Engine, load_pretrained

        folder = REFERENCE_CHECKPOINT if path is None else Path(path)
        if not (folder / "config.json").is_file():
            what = "the shipped reference model" if path is None else "a vistakit checkpoint folder"
            raise FileNotFoundError(f"{folder} has no config.json, so it is not {what}")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if str(device) == "cpu":
            from .threads import inference_threads

            torch.set_num_threads(inference_threads(threads))
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        model, processor = load_pretrained(folder)
        model.to(device)
        return cls(Engine(model, processor, device), folder.name, precision, read_domain(folder))

    @property
    def processor(self) -> Any:
        return self.engine.processor

    @property
    def max_images(self) -> int:
        """Most images one request may show (the model's configuration)."""
        return int(self.engine.model.config.max_images)

    @property
    def max_positions(self) -> int:
        """Prompt plus answer tokens the language model can hold."""
        return int(self.engine.model.config.lm.max_positions)

    # --- one request at a time ----------------------------------------------------------------------------
    def predict(
        self,
        images: ImageInput | Sequence[ImageInput],
        prompt: str,
        *,
        task: str | None = None,
        regions: Sequence[RegionInput] | Boxes | Points | None = None,
        **generation: Any,
    ) -> Result:
        """Answer ``prompt`` about ``images``.

        ``regions``: the boxes / points the prompt asks about, in pixels of the original image: a list of
        :class:`VisualPrompt` or their JSON dicts (any image), or :class:`Boxes` / :class:`Points` (image 0; a
        normalised space is scaled by image 0's size). ``generation``: ``max_new_tokens`` (256), ``num_beams``
        (1: greedy), ``constrained`` (True).
        """
        unknown = sorted(set(generation) - set(GENERATION_DEFAULTS))
        if unknown:
            raise TypeError(f"unknown generation setting(s) {unknown}; expected {sorted(GENERATION_DEFAULTS)}")
        return self.predict_batch([Request(images, prompt, task, regions, **generation)])[0]

    def predict_batch(self, requests: Iterable[Request]) -> list[Result]:
        """Answer many requests, batched (one generation call per distinct generation setting). Every request
        is checked before the model runs; the first bad one raises ``ValueError`` / ``TypeError`` naming it."""
        prepared = [self.prepare(r, f"request {i}") for i, r in enumerate(requests)]
        return self.run(prepared) if prepared else []

    # --- the two halves, for serving ----------------------------------------------------------------------
    def prepare(self, request: Request, where: str = "request") -> Prepared:
        """Check ``request`` against the model without running it: images read, task known, regions valid and
        matched to ``<region>`` placeholders, the prompt within the model's length. Raises ``ValueError`` /
        ``TypeError`` (``KeyError`` for an unknown task, ``FileNotFoundError`` for a missing image file)."""
        from .model.processor import to_rgb_array
        from .tasks import get_task

        if not isinstance(request, Request):
            raise TypeError(f"{where}: expected a vistakit.Request, got {type(request).__name__}")
        if not isinstance(request.prompt, str) or not request.prompt.strip():
            raise ValueError(f"{where}: the prompt must be a non-empty string, got {request.prompt!r:.60}")
        if request.task is not None:
            get_task(request.task)  # KeyError listing the known tasks
        images = _image_list(request.images)
        if len(images) > self.max_images:
            raise ValueError(f"{where}: {len(images)} images; this model takes at most {self.max_images}")
        arrays = [to_rgb_array(im, f"{where} image {k}", self.max_image_pixels) for k, im in enumerate(images)]
        sizes = [(int(a.shape[1]), int(a.shape[0])) for a in arrays]
        regions = regions_to_visual_prompts(request.regions, sizes, f"{where} regions")
        prompt = with_regions(full_prompt(request.prompt, len(arrays)), len(regions))
        generation = _generation(request, where)
        try:  # the processor makes every check the batched call will make; the length is checked below
            batch = self.processor([arrays], [prompt], visual_prompts=[regions], padding_side="left",
                                   max_length=2**31)  # fmt: skip
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{where}: {exc}") from None
        tokens = int(batch["attention_mask"].sum())
        if tokens >= self.max_positions:
            raise ValueError(f"{where}: the prompt takes {tokens} tokens (image slots included); this model holds "
                             f"{self.max_positions} with the answer, so shorten the prompt or send fewer images")  # fmt: skip
        warnings = tuple(self.domain.warnings(request.task, arrays)) if self.domain is not None else ()
        return Prepared(arrays, sizes, prompt, regions, request.task, generation, tokens, warnings)

    def _autocast(self) -> Any:
        import contextlib

        import torch

        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.engine.device.type, dtype=torch.bfloat16)

    def run(self, prepared: Sequence[Prepared]) -> list[Result]:
        """Answer prepared requests: one batched generation per distinct generation setting; results in order."""
        from .evaluation.present import parse_any
        from .model.engine import attach_scores

        groups: dict[tuple[int, int, bool], list[int]] = {}
        for i, p in enumerate(prepared):
            groups.setdefault(p.generation, []).append(i)
        out: list[Result | None] = [None] * len(prepared)
        for (max_new, beams, constrained), rows in groups.items():
            images, prompts = [prepared[i].images for i in rows], [prepared[i].prompt for i in rows]
            regions = [prepared[i].regions for i in rows]
            with self._autocast():
                gens = self.engine.generate(images, prompts, regions, max_new_tokens=max_new, num_beams=beams,
                                            constrained=constrained)  # fmt: skip
                painted: list[Any] = [None] * len(gens)
                if self.engine.mask_readout() == "decoder":  # the decoder paints each <mask> / <box> of the answers
                    batch = self.engine.batch_of(gens)  # the generated batch, its image features and hidden states
                    if batch is None:
                        batch = self.processor(images, prompts, visual_prompts=regions, padding_side="left")
                    painted = self.engine.paint_masks(batch, gens)
            for i, gen, drawn in zip(rows, gens, painted):
                p = prepared[i]
                if p.task is not None:
                    pred = self.processor.postprocess(gen.text, p.task, p.image_sizes, painted=drawn)
                else:
                    pred = parse_any(gen.text, p.image_sizes, self.processor.grammar, painted=drawn)
                attach_scores(pred, gen)
                out[i] = Result.from_prediction(pred, gen, p)
        return out  # type: ignore[return-value]  (every row was filled)

"""What every task is: prompt templates, target text, a parser of model output and a scorer.

A task is one object in one file (``tasks/<name>.py``), registered in :data:`TASKS` by :func:`register_task`
and looked up with :func:`get_task`. Coordinates: ``Targets`` and :class:`Prediction` are in pixels of the
**original** image; answer text is in the sequence grammar, normalised to the model frame
(``ImageTransform.fit((w, h), max(w, h))``), see :mod:`vistakit.tasks.common`.
"""

from __future__ import annotations

import dataclasses
import random
import string
from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence

import numpy as np

from ..data.record import IMAGE_PLACEHOLDER, Record, Targets
from ..geometry import MODEL_NORMALIZED, Boxes, Keypoints, Mask, SequenceGrammar, SoftMask
from ..geometry.sequence import ParseResult
from ..registry import Registry


# the span kinds a super-link decoder may paint (vistakit.model.mask_decoder)
PAINTED_KINDS = ("mask", "box")


@dataclass
class Prediction:
    """A parsed (or structured) model answer, in pixels of the original image(s).

    ``boxes`` N×4 xyxy float64; ``masks`` N bool H×W arrays or COCO RLE dicts; ``points`` M×2 (x, y);
    ``scores`` N confidences (``None``: unscored, treated as all equal); ``image_ids`` the image index of each
    instance, or the picked images for tasks that pick images; ``keypoints`` one :class:`Keypoints` per figure;
    ``labels`` one phrase per instance (or per point for grounded captions); ``empty`` is True when the answer
    said ``<none>``; ``problems`` lists what the parser could not read; ``images`` the images an answer
    produced (H×W×3 uint8 RGB: generation and editing).
    """

    text: str = ""
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    masks: list[Any] = field(default_factory=list)
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    scores: np.ndarray | None = None
    image_ids: list[int] = field(default_factory=list)
    keypoints: list[Keypoints] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    empty: bool = False
    problems: list[str] = field(default_factory=list)
    images: list[np.ndarray] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, np.float64).reshape(-1, 4)
        self.points = np.asarray(self.points, np.float64).reshape(-1, 2)
        if self.scores is not None:
            self.scores = np.asarray(self.scores, np.float64).reshape(-1)

    def mask_arrays(self) -> list[np.ndarray]:
        """Every mask as an H×W bool array (RLE dicts are decoded)."""
        return [m if isinstance(m, np.ndarray) else Mask.from_rle(m).array for m in self.masks]


class Task:
    """Base class. Subclasses set the class attributes and implement the four methods.

    ``num_images``: images a sample shows (``None``: any number, given as ``n_images`` to :meth:`make_prompt`;
    0 for text-to-image).
    ``prompt_templates`` are ``str.format`` templates of the question (without ``<image>`` placeholders, which
    :meth:`make_prompt` adds); every template of a task uses the same slots.
    ``grounds``: the targets' boxes / masks are exactly the regions the instruction names, so they may teach the
    image tokenizer where to look (its grounding loss, :mod:`vistakit.model.grounding`); :meth:`grounds_record`
    decides it per record (VQA grounds the records that list their question's referents).
    ``orders_referents``: the targets' ``labels`` are the phrases the instruction names its regions by, in the
    order it names them (VQA: "Is the red circle left of the blue square?"), so an image tokenizer with several
    relevance maps (``image_tokenizer.referents``) trains map k on the k-th phrase's regions; otherwise every map
    learns all the regions.
    """

    name: ClassVar[str] = ""
    metric_names: ClassVar[tuple[str, ...]] = ()
    prompt_templates: ClassVar[tuple[str, ...]] = ()
    num_images: ClassVar[int | None] = 1
    grounds: ClassVar[bool] = False
    orders_referents: ClassVar[bool] = False

    def grounds_record(self, record: Record) -> bool:
        """Whether this record's target regions are what its instruction names (default: :attr:`grounds`)."""
        return self.grounds

    # --- prompts ------------------------------------------------------------------------------------------
    @property
    def slots(self) -> frozenset[str]:
        """The slot names the templates use."""
        return frozenset(f for t in self.prompt_templates for _, f, _, _ in string.Formatter().parse(t) if f)

    def make_prompt(self, rng: random.Random, n_images: int | None = None, **slots: Any) -> str:
        """A full prompt: one ``<image>`` per image (labelled "Image 1:", … when several), then a randomly
        chosen phrasing of the question with ``slots`` filled in."""
        n = self.num_images if n_images is None else n_images
        if n is None or not isinstance(n, int) or n < 0:
            raise ValueError(f"task {self.name!r} shows a variable number of images; give n_images >= 1, got {n_images!r}")
        if self.num_images is not None and n != self.num_images:
            raise ValueError(f"task {self.name!r} shows {self.num_images} image(s), got n_images={n}")
        missing = self.slots - set(slots)
        extra = set(slots) - self.slots
        if missing or extra:
            raise ValueError(
                f"task {self.name!r} prompt slots are {sorted(self.slots)}; missing {sorted(missing)}, unknown {sorted(extra)}"
            )
        template = rng.choice(self.prompt_templates)
        if n == 0:
            header = ""
        elif n == 1:
            header = f"{IMAGE_PLACEHOLDER}\n"
        else:
            header = "".join(f"Image {k + 1}: {IMAGE_PLACEHOLDER}\n" for k in range(n))
        return header + template.format(**slots)

    # --- answers ------------------------------------------------------------------------------------------
    def build_answer(self, targets: Targets, image_sizes: Sequence[tuple[int, int]], grammar: SequenceGrammar) -> str:
        """Targets (original pixels; image_sizes (W, H) per image) → answer text in the grammar."""
        raise NotImplementedError

    def parse(
        self,
        text: str,
        image_sizes: Sequence[tuple[int, int]],
        grammar: SequenceGrammar,
        painted: Sequence[SoftMask | None] | None = None,
    ) -> Prediction:
        """Model output → prediction in original pixels. Never raises: problems go to ``Prediction.problems``.

        ``painted``: what the super-link decoder painted (a :class:`SoftMask`, or ``None`` to keep the written
        geometry) for each ``<mask>`` / ``<box>`` span of ``text``, in order (:func:`with_decoded_masks`)."""
        if not isinstance(text, str):
            return Prediction(problems=[f"expected the answer as a string, got {type(text).__name__}"])
        res = grammar.decode(text)
        if painted is not None:
            res = with_decoded_masks(res, painted)
        try:
            pred = self.read(res, image_sizes)
        except Exception as exc:  # noqa: BLE001  (the contract: parsing model output never raises)
            pred = Prediction(text=res.text, problems=[f"could not read the answer: {type(exc).__name__}: {exc}"])
        pred.problems = list(res.problems) + pred.problems
        return pred

    def read(self, res: ParseResult, image_sizes: Sequence[tuple[int, int]]) -> Prediction:
        """Decoded spans (normalised model frame) → prediction in original pixels. May raise; :meth:`parse`
        turns errors into problems."""
        raise NotImplementedError

    def score(self, golds: list[Record], preds: list[Prediction]) -> dict[str, float]:
        """Metrics (``metric_names``) over aligned lists of gold records and predictions."""
        raise NotImplementedError

    def sample_scores(self, golds: list[Record], preds: list[Prediction]) -> dict[str, np.ndarray] | None:
        """Per-record values whose mean is a metric, for the metrics that are such means — what lets a bootstrap
        (:mod:`vistakit.evaluation.bootstrap`) resample a costly metric without recomputing it. ``None`` (the
        default): resample by calling :meth:`score` on each resampled set."""
        return None

    def check_aligned(self, golds: Sequence[Record], preds: Sequence[Prediction]) -> None:
        if len(golds) != len(preds):
            raise ValueError(f"task {self.name!r}: {len(golds)} gold records but {len(preds)} predictions; expected one each")

    def __repr__(self) -> str:
        return f"<task {self.name}>"


TASKS: Registry[Task] = Registry("task")


def register_task(cls: type[Task]) -> type[Task]:
    """Class decorator: register one instance of ``cls`` under ``cls.name``."""
    if not cls.name or not cls.prompt_templates:
        raise TypeError(f"{cls.__name__} must set name and prompt_templates")
    TASKS.add(cls.name, cls())
    return cls


def get_task(name: str) -> Task:
    """The task called ``name``; an unknown name raises ``KeyError`` listing the known ones."""
    from .. import tasks as _all  # noqa: F401  (importing the package registers every task)

    return TASKS.get(name)


def task_names() -> list[str]:
    from .. import tasks as _all  # noqa: F401

    return TASKS.names()


def with_decoded_masks(res: ParseResult, painted: Sequence[SoftMask | None]) -> ParseResult:
    """``res`` with its ``mask`` and ``box`` spans (in answer order) replaced by what the super-link decoder
    painted for each: a mask span gets the :class:`SoftMask` itself, a box span the box of its largest painted
    region (``None``, or nothing painted, keeps the written geometry). When the counts differ (an answer cut off
    inside a span) nothing is replaced and the mismatch is reported in ``problems``."""
    spans = [i for i, s in enumerate(res.spans) if s.kind in PAINTED_KINDS]
    if len(spans) != len(painted):
        return dataclasses.replace(res, problems=[*res.problems, f"the decoder painted {len(painted)} region(s) for "
                                                  f"{len(spans)} mask / box span(s); kept the written ones"])  # fmt: skip
    out = list(res.spans)
    for i, m in zip(spans, painted):
        if m is None:
            continue
        if out[i].kind == "mask":
            out[i] = dataclasses.replace(out[i], geometry=m)
            continue
        xyxy = m.box_xyxy()
        if xyxy is not None:  # normalised like every parsed span: the model frame's size is the parser's business
            size = np.asarray(m.probs.shape[::-1] * 2, np.float64)
            out[i] = dataclasses.replace(out[i], geometry=Boxes((xyxy / size)[None], MODEL_NORMALIZED))
    return dataclasses.replace(res, spans=out)

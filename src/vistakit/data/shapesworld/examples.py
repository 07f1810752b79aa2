"""What an annotator returns, the context it draws from, and the helpers that turn scene objects into targets.

An *annotator* (one per task, registered in :data:`ANNOTATORS`) takes a :class:`Context` and returns an
:class:`Example`: the scenes shown (image 0, 1, …), the prompt slots for the task's templates, the targets in
pixels of the original images, visual prompts and meta. :mod:`.generate` turns it into a :class:`Record`
through the task object (prompt phrasing and answer text come from ``vistakit.tasks``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from ...geometry import Mask
from ...registry import Registry
from ..record import Targets, VisualPrompt
from .language import matches
from .scene import FIGURE, SHAPES, Combo, Scene, SceneSampler, SceneSamplingError, Want


@dataclass
class Example:
    """One task sample before it becomes a record. ``scenes[k]`` is image k; ``extra_scenes`` are images that
    are written beside the record and referenced from ``meta`` (e.g. ``{"target_image": scene}`` for
    generate / edit) but not shown in the prompt."""

    task: str
    scenes: list[Scene]
    slots: dict[str, str]
    targets: Targets
    visual_prompts: list[VisualPrompt] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    extra_scenes: dict[str, Scene] = field(default_factory=dict)


@dataclass
class Context:
    """Randomness and constraints for one sample.

    ``focus`` (compositional split only) is a held-out (colour, shape) pair that every sample must show and
    should ask about; ``holdout`` are the pairs ordinary samples never show. ``cite_referents``: the tasks (``vqa``,
    ``nlvr``) whose records list the objects their text names as targets, for answers that cite them first; it
    draws nothing from ``rng``. ``relation_rate``: how often a REC / RES sample tries a spatial relation first
    (draws the same from ``rng`` whatever its value). ``ground_questions``: the VQA question kinds (``position``,
    ``size``) whose records carry, in ``meta``, grounding targets for the relevance map, read as
    ``question_grounding`` says: ``answer`` — the region the answer rests on and the relation it tests; ``objects``
    — the two objects it compares (draws nothing). ``question_kinds``: ``(kind, weight)`` pairs a VQA sample draws
    its question kind from, in proportion to the weights (kinds not listed are never asked); empty (the default):
    every kind equally often, drawn as before the option existed, so default splits keep their bytes.
    """

    rng: np.random.Generator
    sampler: SceneSampler
    focus: Combo | None = None
    cite_referents: frozenset[str] = frozenset()
    relation_rate: float = 0.3
    ground_questions: frozenset[str] = frozenset()
    question_grounding: str = "answer"
    question_kinds: tuple[tuple[str, float], ...] = ()

    @property
    def holdout(self) -> frozenset[Combo]:
        return self.sampler.cfg.holdout

    @property
    def size(self) -> int:
        return self.sampler.cfg.size

    def choice(self, seq: Sequence[Any]) -> Any:
        return seq[int(self.rng.integers(len(seq)))]

    def focus_want(self) -> Want | None:
        return Want(shape=self.focus[1], colour=self.focus[0]) if self.focus else None

    def scene(self, wants: Sequence[Want] = (), with_focus: bool = True, **kw: Any) -> Scene:
        """A scene holding ``wants`` (plus the focus object when there is one and ``with_focus``)."""
        wants = list(wants)
        if with_focus and self.focus and not any(w.shape == self.focus[1] and w.colour == self.focus[0] for w in wants):
            wants.append(self.focus_want())
        for _ in range(50):  # crowded draws fail now and then: draw again (deterministic under the seed)
            try:
                return self.sampler.sample(self.rng, wants=wants, **kw)
            except SceneSamplingError:
                continue
        raise RuntimeError(f"could not place {wants} after 50 draws; the scene constraints are too tight")

    def retry(self, make: Callable[[], Example | None], tries: int = 50) -> Example:
        """Call ``make`` until it returns an example (None or a sampling failure means: draw again)."""
        for _ in range(tries):
            try:
                ex = make()
            except SceneSamplingError:
                continue
            if ex is not None:
                return ex
        raise RuntimeError(f"no example after {tries} draws; the scene constraints are too tight")

    def pick(self, scene: Scene, candidates: Sequence[int]) -> int:
        """One of ``candidates``, preferring the focus object (so the compositional split asks about it)."""
        if self.focus:
            hit = [
                i for i in candidates if matches(scene.objects[i], {"colour": self.focus[0], "shape": self.focus[1]})
            ]
            if hit:
                return hit[0]
        return int(candidates[int(self.rng.integers(len(candidates)))])

    def combo(self, shapes: Sequence[str] = SHAPES) -> Combo:
        """A (colour, shape) pair to ask about: the focus if any, else a random pair that is not held out."""
        if self.focus:
            return self.focus
        for _ in range(100):
            c = (self.choice(self.sampler.cfg.colours), self.choice(shapes))
            if c not in self.holdout:
                return c
        raise RuntimeError("every (colour, shape) pair is held out")


Annotator = Callable[[Context], Example]
ANNOTATORS: Registry[Annotator] = Registry("ShapesWorld annotator")
ALL_SHAPES = (*SHAPES, FIGURE)


# --- scene objects → targets (original pixels) -----------------------------------------------------------
def visible_box(scene: Scene, i: int) -> list[float]:
    """xyxy box (pixel edges) around object ``i``'s visible pixels."""
    return [float(v) for v in Mask(scene.visible_masks[i]).bbox().xyxy()[0]]


def visible_rle(scene: Scene, i: int) -> dict[str, Any]:
    """COCO RLE (counts as str) of object ``i``'s visible pixels."""
    return Mask(scene.visible_masks[i]).to_rle()


def union_rle(scene: Scene, idx: Sequence[int]) -> dict[str, Any]:
    m = np.zeros((scene.height, scene.width), bool)
    for i in idx:
        m |= scene.visible_masks[i]
    return Mask(m).to_rle()


def union_box(scene: Scene, idx: Sequence[int]) -> list[float]:
    m = np.zeros((scene.height, scene.width), bool)
    for i in idx:
        m |= scene.visible_masks[i]
    return [float(v) for v in Mask(m).bbox().xyxy()[0]]


def inner_point(scene: Scene, i: int) -> list[float]:
    """(x, y) pixel centre of object ``i``'s visible pixel farthest from its edge (always inside its mask)."""
    m = np.pad(scene.visible_masks[i].astype(np.uint8), 1)
    dist = cv2.distanceTransform(m, cv2.DIST_L2, 3)[1:-1, 1:-1]
    r, c = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return [float(c) + 0.5, float(r) + 0.5]


def trace_over(scene: Scene, i: int, rng: np.random.Generator, start: float, n: int = 6) -> dict[str, list]:
    """A short mouse trace over object ``i``: ``n`` visible pixel centres circling its centre, 0.1 s apart,
    starting at ``start`` seconds."""
    rows, cols = np.nonzero(scene.visible_masks[i])
    pick = rng.choice(len(rows), size=min(n, len(rows)), replace=False)
    xy = np.stack([cols[pick] + 0.5, rows[pick] + 0.5], axis=1)
    c = xy.mean(axis=0)
    xy = xy[np.argsort(np.arctan2(xy[:, 1] - c[1], xy[:, 0] - c[0]), kind="stable")]
    return {"xy": xy.round(2).tolist(), "t": [round(start + 0.1 * k, 2) for k in range(len(xy))]}


def keypoints_target(scene: Scene, i: int) -> dict[str, list]:
    """Record keypoints of figure ``i``: names, xy (pixels, clipped to the image), COCO visibility."""
    from .figures import KEYPOINT_NAMES

    xy = scene.objects[i].keypoints()
    xy = np.clip(xy, 0, [scene.width, scene.height]).round(3)
    return {"names": list(KEYPOINT_NAMES), "xy": xy.tolist(), "visibility": scene.keypoint_visibility(i).tolist()}


def reading_order(scene: Scene, idx: Sequence[int]) -> list[int]:
    """``idx`` sorted top to bottom, then left to right, by visible-box corner (a canonical instance order)."""
    return sorted(idx, key=lambda i: (visible_box(scene, i)[1], visible_box(scene, i)[0], i))

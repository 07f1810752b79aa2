"""Write a ShapesWorld split in the unified format: ``DIR/<split>.jsonl``, ``DIR/images/<split>/…png`` and
``DIR/dataset.json``.

Determinism: sample ``i`` of split ``s`` with seed ``S`` draws everything from
``numpy.random.SeedSequence([S, SPLIT_STREAMS[s], i])``, so the same (seed, split, index) gives byte-identical
images and record lines whatever else is generated, and the splits use disjoint seed streams. Tasks take turns
(sample ``i`` is task ``tasks[i % len(tasks)]``), so every task is present once ``n >= len(tasks)``.

Compositional generalisation: ``holdout`` (colour, shape) pairs never appear in train/val/test; every sample of
the ``compositional`` split shows one of them and its question is about it where the task allows.

Variation (all off by default; docs/shapesworld.md): ``geometry`` (fixed ``WIDTHxHEIGHT`` or ``random`` sizes and
aspect ratios), ``object_scale``, ``render`` (``flat`` or anti-aliased ``aa``), ``shade_jitter`` and
``backgrounds``. With every option off a split's bytes are those it had before the options existed.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...geometry import SequenceGrammar
from ..record import ANSWER_BINS, FORMAT_VERSION, Record, write_records
from . import annotate_dense, annotate_generate, annotate_multi, annotate_refer, annotate_text  # noqa: F401  (register)
from .annotate_text import QUESTIONS
from .examples import ANNOTATORS, Context, Example, visible_rle
from .language import desc_of, phrase
from .canvas import Geometry
from .render import png_bytes, render
from .scene import Combo, Scene, SceneConfig, SceneSampler

SPLIT_STREAMS = {"train": 0, "val": 1, "test": 2, "compositional": 3}
DEFAULT_HOLDOUT: tuple[Combo, ...] = (("purple", "star"),)
DEFAULT_SIZE = 64  # the tiny preset: 10k mixed-task samples in well under a minute on one core
RENDER_MODES = {"flat": 1, "aa": 4}  # render mode → supersampling factor (aa: 4 × 4 sub-pixels per pixel)
SOURCE = "shapesworld"


def task_names() -> list[str]:
    """Every task ShapesWorld can generate."""
    return ANNOTATORS.names()


CITING_TASKS = ("vqa", "nlvr")  # tasks whose records can list the objects their text names (cite_referents)
GROUNDED_QUESTIONS = ("position", "size")  # VQA question kinds whose records can carry grounding meta (ground_questions)
# how a grounded question's meta reads it: "answer" — a position question as its relational expression (the A when
# the answer is yes, nothing when no); "objects" — the two objects it compares (the A as the map, the B as anchor)
QUESTION_GROUNDINGS = ("answer", "objects")


@dataclass(frozen=True)
class GenerateConfig:
    """One split's settings. ``tasks`` empty means all; ``size`` is the square image side in pixels;
    ``cite_referents`` names the tasks (of :data:`CITING_TASKS`) whose records list what their text names;
    ``relation_rate`` is how often a REC / RES sample tries a spatial relation first (of those tried, scenes with
    no unique relational expression fall back to attributes); ``ground_questions`` names the VQA question kinds (of
    :data:`GROUNDED_QUESTIONS`) whose records carry grounding meta (``meta.grounding_mask``, ``meta.relation`` and
    ``meta.anchor_mask``), read as ``question_grounding`` says (:data:`QUESTION_GROUNDINGS`; docs/shapesworld.md);
    ``question_kinds`` (``(kind, weight)`` pairs; empty: every kind equally often) sets how often VQA asks each kind
    of question. ``geometry`` (``""``: ``size`` × ``size``; else ``WIDTHxHEIGHT`` or ``random``, see
    :class:`~.canvas.Geometry`), ``object_scale``, ``render``, ``shade_jitter`` and ``backgrounds``: how the
    images vary (:class:`~.scene.SceneConfig`; all off by default)."""

    split: str = "train"
    n: int = 100
    seed: int = 0
    tasks: tuple[str, ...] = ()
    size: int = DEFAULT_SIZE
    holdout: tuple[Combo, ...] = DEFAULT_HOLDOUT
    max_objects: int = 5
    compress_level: int = 1
    bins: int = ANSWER_BINS
    cite_referents: tuple[str, ...] = ()
    relation_rate: float = 0.3
    ground_questions: tuple[str, ...] = ()
    question_grounding: str = "answer"
    question_kinds: tuple[tuple[str, float], ...] = ()
    geometry: str = ""
    object_scale: tuple[float, float] = (1.0, 1.0)
    render: str = "flat"
    shade_jitter: float = 0.0
    backgrounds: str = "classic"

    def __post_init__(self) -> None:
        if self.split not in SPLIT_STREAMS:
            raise ValueError(f"unknown split {self.split!r}; expected one of {', '.join(SPLIT_STREAMS)}")
        if self.n < 0:
            raise ValueError(f"the number of samples must be >= 0, got {self.n}")
        for t in self.tasks:
            ANNOTATORS.get(t)  # unknown names raise, listing the known ones
        bad = sorted(set(self.cite_referents) - set(CITING_TASKS))
        if bad:
            raise ValueError(f"cite_referents: {', '.join(bad)} cannot cite referents; expected some of "
                             f"{', '.join(CITING_TASKS)}")  # fmt: skip
        bad = sorted(set(self.ground_questions) - set(GROUNDED_QUESTIONS))
        if bad:
            raise ValueError(f"ground_questions: {', '.join(bad)} cannot be grounded; expected some of "
                             f"{', '.join(GROUNDED_QUESTIONS)}")  # fmt: skip
        if self.question_grounding not in QUESTION_GROUNDINGS:
            raise ValueError(f"question_grounding must be one of {', '.join(QUESTION_GROUNDINGS)}, "
                             f"got {self.question_grounding!r}")  # fmt: skip
        if "size" in self.ground_questions and self.question_grounding != "objects":
            raise ValueError("ground_questions: size questions have no answer region to ground; ground them as "
                             "the objects they compare (question_grounding 'objects')")  # fmt: skip
        for kind, weight in self.question_kinds:
            if kind not in QUESTIONS.names():
                raise ValueError(f"question_kinds: no VQA question kind {kind!r}; expected some of "
                                 f"{', '.join(QUESTIONS.names())}")  # fmt: skip
            if not (isinstance(weight, (int, float)) and weight >= 0):
                raise ValueError(f"question_kinds: the weight of {kind!r} must be a number >= 0, got {weight!r}")
        if self.question_kinds and not sum(w for _, w in self.question_kinds) > 0:
            raise ValueError("question_kinds: at least one kind needs a weight > 0")
        if not 0.0 <= self.relation_rate <= 1.0:
            raise ValueError(f"relation_rate must be in [0, 1] (how often REC / RES try a spatial relation first), "
                             f"got {self.relation_rate}")  # fmt: skip
        if self.split == "compositional" and not self.holdout:
            raise ValueError("the compositional split needs at least one held-out (colour, shape) pair")
        if self.geometry and self.size != DEFAULT_SIZE:
            raise ValueError(f"give the image size once: size {self.size} or geometry {self.geometry!r}, not both")
        if self.render not in RENDER_MODES:
            raise ValueError(f"render must be one of {', '.join(RENDER_MODES)}, got {self.render!r}")
        self.scene_config()  # the scene options' own checks (geometry, object_scale, shade_jitter, backgrounds)

    @property
    def task_list(self) -> list[str]:
        return list(self.tasks) or task_names()

    def scene_config(self) -> SceneConfig:
        return SceneConfig(
            size=self.size, max_objects=self.max_objects, holdout=frozenset(self.holdout),
            geometry=Geometry.parse(self.geometry) if self.geometry else None,
            object_scale=(float(self.object_scale[0]), float(self.object_scale[1])),
            supersample=RENDER_MODES[self.render], shade_jitter=float(self.shade_jitter), backgrounds=self.backgrounds,
        )  # fmt: skip

    def variation(self) -> dict[str, Any]:
        """The variation options that differ from their defaults (``{}`` for a classic split)."""
        out: dict[str, Any] = {}
        if self.geometry:
            out["geometry"] = str(Geometry.parse(self.geometry))
        if tuple(self.object_scale) != (1.0, 1.0):
            out["object_scale"] = list(self.object_scale)
        if self.render != "flat":
            out["render"] = self.render
        if self.shade_jitter:
            out["shade_jitter"] = self.shade_jitter
        if self.backgrounds != "classic":
            out["backgrounds"] = self.backgrounds
        return out


def sample_rngs(seed: int, split: str, index: int) -> tuple[np.random.Generator, random.Random]:
    """The generators of one sample: numpy for scenes, ``random.Random`` for the task's prompt phrasing."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), SPLIT_STREAMS[split], int(index)]))
    return rng, random.Random(int(rng.integers(2**62)))


def make_example(cfg: GenerateConfig, index: int, sampler: SceneSampler | None = None) -> tuple[Example, random.Random]:
    """Sample ``index`` of the split as an :class:`Example` (and the prompt RNG to phrase it with)."""
    rng, prng = sample_rngs(cfg.seed, cfg.split, index)
    tasks = cfg.task_list
    focus = cfg.holdout[index % len(cfg.holdout)] if cfg.split == "compositional" else None
    ctx = Context(rng, sampler or SceneSampler(cfg.scene_config()), focus,
                  cite_referents=frozenset(cfg.cite_referents), relation_rate=cfg.relation_rate,
                  ground_questions=frozenset(cfg.ground_questions),
                  question_grounding=cfg.question_grounding, question_kinds=cfg.question_kinds)  # fmt: skip
    return ANNOTATORS.get(tasks[index % len(tasks)])(ctx), prng


def to_record(
    ex: Example, rec_id: str, images: Sequence[str], prng: random.Random, grammar: SequenceGrammar, meta: dict[str, Any]
) -> Record:
    """An example → a validated record, prompt and answer text made by the task object (``vistakit.tasks``)."""
    from ...tasks import get_task

    task = get_task(ex.task)
    sizes = [s.size for s in ex.scenes]
    prompt = task.make_prompt(prng, n_images=len(ex.scenes), **ex.slots)
    answer = task.build_answer(ex.targets, sizes, grammar)
    return Record(
        id=rec_id, task=ex.task, images=list(images), image_sizes=sizes, prompt=prompt, answer=answer,
        targets=ex.targets, visual_prompts=list(ex.visual_prompts), meta={**meta, **ex.meta},
    )  # fmt: skip


def scene_instances(scene: Scene) -> list[dict[str, Any]]:
    """Every object the image shows, COCO style — ``{"label": "large red circle", "mask": RLE of its visible
    pixels}`` bottom to top, fully hidden objects left out. Auxiliary annotation (``meta.instances``, one list per
    image): training may use it (the tower's attribute heads), tasks and metrics never do."""
    return [
        {"label": phrase(desc_of(o)), "mask": visible_rle(scene, j)}
        for j, o in enumerate(scene.objects)
        if scene.visible_masks[j].any()
    ]


def iter_split(cfg: GenerateConfig, out_dir: Path) -> Iterator[Record]:
    """Generate the split's records, writing their images under ``out_dir/images/<split>/`` as it goes."""
    img_dir = out_dir / "images" / cfg.split
    img_dir.mkdir(parents=True, exist_ok=True)
    sampler = SceneSampler(cfg.scene_config())
    grammar = SequenceGrammar(cfg.bins)
    for i in range(cfg.n):
        ex, prng = make_example(cfg, i, sampler)
        stem = f"{i:06d}"
        rel = [f"images/{cfg.split}/{stem}_{k}.png" for k in range(len(ex.scenes))]
        for path, scene in zip(rel, ex.scenes):
            (out_dir / path).write_bytes(png_bytes(render(scene), cfg.compress_level))
        meta: dict[str, Any] = {"source": SOURCE, "split": cfg.split, "seed": cfg.seed, "index": i}
        if ex.scenes:
            meta["instances"] = [scene_instances(scene) for scene in ex.scenes]
        for key, scene in ex.extra_scenes.items():
            path = f"images/{cfg.split}/{stem}_{key.removesuffix('_image')}.png"
            (out_dir / path).write_bytes(png_bytes(render(scene), cfg.compress_level))
            meta[key] = path
        yield to_record(ex, f"sw-{cfg.split}-{stem}", rel, prng, grammar, meta)


def generate_split(out_dir: str | Path, cfg: GenerateConfig) -> dict[str, Any]:
    """Write ``out_dir/<split>.jsonl`` + images and merge this split into ``out_dir/dataset.json``; returns the
    dataset description."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    counts: Counter[str] = Counter()

    def counted() -> Iterator[Record]:
        for rec in iter_split(cfg, out):
            counts[rec.task] += 1
            yield rec

    n = write_records(out / f"{cfg.split}.jsonl", counted())
    info_path = out / "dataset.json"
    info: dict[str, Any] = {"format": "vistakit", "version": FORMAT_VERSION, "bins": cfg.bins, "source": SOURCE,
                            "splits": {}, "tasks": {}, "generator": {}}  # fmt: skip
    if info_path.is_file():
        old = json.loads(info_path.read_text())
        if old.get("source") == SOURCE and old.get("bins") == cfg.bins:
            info.update({k: old.get(k, {}) for k in ("splits", "tasks", "generator")})
    info["splits"][cfg.split] = n
    info["tasks"][cfg.split] = dict(sorted(counts.items()))
    info["generator"][cfg.split] = {
        "seed": cfg.seed, "size": cfg.size, "tasks": cfg.task_list, "holdout": [list(c) for c in cfg.holdout],
        "max_objects": cfg.max_objects, "cite_referents": list(cfg.cite_referents),
        "relation_rate": cfg.relation_rate, "ground_questions": list(cfg.ground_questions),
        "question_grounding": cfg.question_grounding,
        "question_kinds": [list(kw) for kw in cfg.question_kinds],
    }  # fmt: skip
    if cfg.variation():  # only when set, so a classic split's dataset.json keeps its bytes
        info["generator"][cfg.split]["variation"] = cfg.variation()
    info_path.write_text(json.dumps(info, indent=1, sort_keys=True) + "\n")
    return info

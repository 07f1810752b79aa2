"""Coarse, text-only tasks derived from a scene: ``caption`` (several phrasings, all kept as references) and
``vqa`` (colour, shape, count, existence, relative position and size comparison; yes/no and open answers).

Every question kind also names its *referents* — the objects the question is about, each with the phrase the
question uses for it. With ``"vqa" in Context.cite_referents`` (``vistakit data generate --cite-referents vqa``) they are
written to the record's ``targets.boxes`` / ``labels``, and the VQA answer cites them before answering
(:mod:`vistakit.tasks.vqa`); off (the default), the records are exactly those of earlier versions."""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable

import numpy as np

from ...registry import Registry
from ..record import Targets
from .examples import ANNOTATORS, Context, Example, visible_box, visible_rle
from .language import article, desc_of, holds, list_phrase, matching, number_word, phrase, unique_descriptions
from .scene import SHAPES, SIZES, Scene

BACKGROUND_WORDS = {"plain": "plain", "gradient": "gradient", "noise": "noisy", "texture": "patterned",
                    "radial": "radial gradient", "clouds": "cloudy"}  # fmt: skip


def background_words(scene: Scene) -> str:
    return f"{BACKGROUND_WORDS[scene.background.kind]} background"


def grouped_object_phrases(scene: Scene) -> list[str]:
    """'two red circles', 'a small blue star' … grouping identical (colour, shape) objects."""
    counts = Counter((o.colour, o.shape) for o in scene.objects)
    out = []
    for (colour, shape), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if n == 1:
            i = matching(scene, {"colour": colour, "shape": shape})[0]
            out.append(article(phrase(desc_of(scene.objects[i]))))
        else:
            out.append(f"{number_word(n)} {phrase({'colour': colour, 'shape': shape}, plural=True)}")
    return out


def captions(scene: Scene) -> list[str]:
    """Every phrasing of the scene's caption (all true; the first is the target)."""
    things = list_phrase(grouped_object_phrases(scene))
    bg = background_words(scene)
    n = len(scene.objects)
    noun = "object" if n == 1 else "objects"
    return [
        f"{things[0].upper()}{things[1:]} on a {bg}.",
        f"A {bg} with {things}.",
        f"There {'is' if n == 1 else 'are'} {number_word(n)} {noun}: {things}.",
        f"This image shows {things} on a {bg}.",
    ]


@ANNOTATORS.register("caption")
def caption(ctx: Context) -> Example:
    scene = ctx.scene()
    refs = captions(scene)
    first = int(ctx.rng.integers(len(refs)))
    refs = [refs[first], *refs[:first], *refs[first + 1 :]]
    return Example("caption", [scene], {}, Targets(answers=refs))


# --- VQA: each question kind returns (question, answer, referents) or None when the scene cannot support it -
Referents = list[tuple[int, str]]  # (object index, the phrase the question uses for it), in question order
QA = tuple[str, str, Referents]
Question = Callable[[Context, Scene], "QA | None"]
QUESTIONS: Registry[Question] = Registry("ShapesWorld question kind")


def _described(ctx: Context, scene: Scene, without: str) -> tuple[int, dict[str, str]] | None:
    """An object (focus first) with a unique description that does not use attribute ``without``."""
    cands = [(i, d) for i in range(len(scene.objects)) for d in unique_descriptions(scene, i) if without not in d]
    if not cands:
        return None
    i = ctx.pick(scene, sorted({i for i, _ in cands}))
    return i, next(d for j, d in cands if j == i)


@QUESTIONS.register("colour")
def _colour(ctx: Context, scene: Scene) -> QA | None:
    found = _described(ctx, scene, "colour")
    if found is None:
        return None
    i, d = found
    return f"What colour is the {phrase(d)}?", scene.objects[i].colour, [(i, phrase(d))]


@QUESTIONS.register("shape")
def _shape(ctx: Context, scene: Scene) -> QA | None:
    found = _described(ctx, scene, "shape")
    if found is None:
        return None
    i, d = found
    return f"What shape is the {phrase(d)}?", scene.objects[i].shape, [(i, phrase(d))]


@QUESTIONS.register("count")
def _count(ctx: Context, scene: Scene) -> QA | None:
    o = scene.objects[ctx.pick(scene, range(len(scene.objects)))]
    attrs = ctx.choice((("shape",), ("colour", "shape"), ("colour",)))
    d = desc_of(o, attrs)
    if ctx.rng.random() < 0.15 and "shape" in d:  # sometimes ask about something absent: the answer is 0
        d = {**d, "shape": ctx.choice(SHAPES)}
    found = matching(scene, d)
    return f"How many {phrase(d, plural=True)} are there?", str(len(found)), [(i, phrase(d)) for i in found]


@QUESTIONS.register("exist")
def _exist(ctx: Context, scene: Scene) -> QA | None:
    colour, shape = ctx.combo()
    d = {"colour": colour, "shape": shape}
    if ctx.rng.random() < 0.5:  # ask about a present object half the time so "yes" is as common as "no"
        d = desc_of(scene.objects[ctx.pick(scene, range(len(scene.objects)))], ("colour", "shape"))
    found = matching(scene, d)
    return f"Is there {article(phrase(d))}?", "yes" if found else "no", [(i, phrase(d)) for i in found]


def _pair(ctx: Context, scene: Scene, ok: Callable[[int, int], bool]) -> tuple[int, int, str, str] | None:
    descs = {i: unique_descriptions(scene, i) for i in range(len(scene.objects))}
    pairs = [(a, b) for a in descs for b in descs if a != b and descs[a] and descs[b] and ok(a, b)]
    if not pairs:
        return None
    a, b = pairs[int(ctx.rng.integers(len(pairs)))]
    return a, b, phrase(descs[a][0]), phrase(descs[b][0])


_WHERE = {"left of": "to the left of", "right of": "to the right of", "above": "above", "below": "below"}


@QUESTIONS.register("position")
def _position(ctx: Context, scene: Scene) -> QA | None:
    rel = ctx.choice(("left of", "right of", "above", "below"))
    found = _pair(ctx, scene, lambda a, b: holds(scene, a, b, rel) is not None)
    if found is None:
        return None
    a, b, pa, pb = found
    where = _WHERE[rel]
    return _position_question(pa, where, pb), "yes" if holds(scene, a, b, rel) else "no", [(a, pa), (b, pb)]


def _position_question(pa: str, where: str, pb: str) -> str:
    return f"Is the {pa} {where} the {pb}?"


@QUESTIONS.register("size")
def _size(ctx: Context, scene: Scene) -> QA | None:
    objs = scene.objects
    found = _pair(
        ctx, scene, lambda a, b: objs[a].size != objs[b].size and not objs[a].is_figure and not objs[b].is_figure
    )
    if found is None:
        return None
    a, b, pa, pb = found
    bigger = SIZES.index(objs[a].size) > SIZES.index(objs[b].size)
    if ctx.rng.random() < 0.5:
        return f"Is the {pa} larger than the {pb}?", "yes" if bigger else "no", [(a, pa), (b, pb)]
    return f"Which is larger, the {pa} or the {pb}?", f"the {pa if bigger else pb}", [(a, pa), (b, pb)]


def _position_region(scene: Scene, question: str, answer: str, referents: Referents) -> dict[str, Any]:
    """Auxiliary meta for training the relevance map on a question: a position question "Is the A left of the
    B?" grounds as the expression "the A left of the B" — the A's mask when the answer is yes, nothing (null) when
    it is no — with the relation it tests and the B as its anchor, the same meta a relational REC record carries."""
    (a, pa), (b, pb) = referents
    rel = next(r for r, w in _WHERE.items() if question == _position_question(pa, w, pb))
    return {"grounding_mask": visible_rle(scene, a) if answer == "yes" else None, "relation": rel,
            "anchor_mask": visible_rle(scene, b)}  # fmt: skip


def _compared_objects(scene: Scene, referents: Referents) -> dict[str, Any]:
    """Auxiliary meta for a comparison ("Is the A left of / larger than the B?") read as the two objects it
    compares: the A's mask as the relevance map's target and the B's as the anchor's, whatever the answer — so the
    model sees both objects' boxes and compares them itself. It names no relation (no ``relation`` key, so the
    relation term's direction is not trained on it): labelled "none" (null), the maps did not learn to split the
    two objects (docs/experiments.md)."""
    (a, _), (b, _) = referents
    return {"grounding_mask": visible_rle(scene, a), "anchor_mask": visible_rle(scene, b)}


def _question_kind(ctx: Context) -> str:
    """The kind of question to ask: uniform over every kind, or drawn by ``ctx.question_kinds``' weights."""
    if not ctx.question_kinds:
        return ctx.choice(QUESTIONS.names())
    kinds = [k for k, _ in ctx.question_kinds]
    weights = np.array([w for _, w in ctx.question_kinds], dtype=float)
    return kinds[int(ctx.rng.choice(len(kinds), p=weights / weights.sum()))]


@ANNOTATORS.register("vqa")
def vqa(ctx: Context) -> Example:
    def make() -> Example | None:
        scene = ctx.scene()
        kind = _question_kind(ctx)
        qa = QUESTIONS.get(kind)(ctx, scene)
        if qa is None:
            return None
        question, answer, referents = qa
        targets = Targets(answers=[answer])
        if "vqa" in ctx.cite_referents:
            targets.boxes = [visible_box(scene, i) for i, _ in referents]
            targets.labels = [label for _, label in referents]
        meta: dict[str, Any] = {"question_kind": kind}
        if kind in ctx.ground_questions and ctx.question_grounding == "objects":
            meta.update(_compared_objects(scene, referents))
        elif kind in ctx.ground_questions:  # "answer": only position questions (GenerateConfig checks)
            meta.update(_position_region(scene, question, answer, referents))
        return Example("vqa", [scene], {"question": question}, targets, meta=meta)

    return ctx.retry(make)

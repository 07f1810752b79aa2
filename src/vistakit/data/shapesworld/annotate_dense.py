"""Dense tasks derived from a scene: ``grounded_caption`` (every phrase naming an object carries a point inside
its visible mask and a short trace over it), ``detection`` (all objects of the listed classes, with labels) and
``pose`` (the keypoints of every figure)."""

from __future__ import annotations

from ..record import Targets
from .examples import (
    ALL_SHAPES, ANNOTATORS, Context, Example, inner_point, keypoints_target, reading_order, trace_over, visible_box,
)  # fmt: skip
from .language import article, desc_of, list_phrase, phrase
from .scene import FIGURE, SHAPES, Want


@ANNOTATORS.register("grounded_caption")
def grounded_caption(ctx: Context) -> Example:
    scene = ctx.scene()
    order = reading_order(scene, range(len(scene.objects)))
    names = [phrase(desc_of(scene.objects[i])) for i in order]
    items = [article(n) for n in names]
    opener = ctx.choice(("There is ", "This image shows ", "I can see "))
    text = opener + list_phrase(items) + "."
    words, cursor = [], len(opener)
    for k, (i, name, item) in enumerate(zip(order, names, items)):
        start = text.index(name, cursor)  # the noun phrase after its article
        cursor = start + len(name)
        words.append({
            "text": name, "start": start, "end": cursor, "point": inner_point(scene, i), "image": 0,
            "trace": trace_over(scene, i, ctx.rng, start=0.8 * k),
        })  # fmt: skip
    targets = Targets(
        answers=[text],
        words=words,
        points=[w["point"] for w in words],
        boxes=[visible_box(scene, i) for i in order],
        labels=names,
        traces=[w["trace"] for w in words],
    )
    return Example("grounded_caption", [scene], {}, targets)


@ANNOTATORS.register("detection")
def detection(ctx: Context) -> Example:
    """Every object of the listed classes, labelled with its class. The list holds 1-3 classes: at least one
    present in the scene, and now and then one that is absent (nothing to find for it)."""
    scene = ctx.scene(shapes=ALL_SHAPES if ctx.rng.random() < 0.2 else SHAPES)
    present = sorted({o.shape for o in scene.objects})
    k = int(ctx.rng.integers(1, min(3, len(present)) + 1))
    listed = [present[int(i)] for i in ctx.rng.choice(len(present), size=k, replace=False)]
    absent = [s for s in ALL_SHAPES if s not in present]
    if absent and ctx.rng.random() < 0.3:
        listed.append(absent[int(ctx.rng.integers(len(absent)))])
    listed = sorted(listed)
    idx = reading_order(scene, [i for i, o in enumerate(scene.objects) if o.shape in listed])
    targets = Targets(boxes=[visible_box(scene, i) for i in idx], labels=[scene.objects[i].shape for i in idx])
    return Example("detection", [scene], {"classes": ", ".join(listed)}, targets)


@ANNOTATORS.register("pose")
def pose(ctx: Context) -> Example:
    def make() -> Example:
        n_fig = 1 if ctx.rng.random() < 0.7 else 2
        extra = int(ctx.rng.integers(0, 3))
        scene = ctx.scene([Want(shape=FIGURE)] * n_fig, n=n_fig + extra + (1 if ctx.focus else 0))
        idx = reading_order(scene, [i for i, o in enumerate(scene.objects) if o.is_figure])
        targets = Targets(
            boxes=[visible_box(scene, i) for i in idx],
            keypoints=[keypoints_target(scene, i) for i in idx],
            labels=["figure"] * len(idx),
        )
        return Example("pose", [scene], {}, targets)

    return ctx.retry(make)

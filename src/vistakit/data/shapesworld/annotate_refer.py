"""Referring tasks derived from a scene.

``rec`` / ``res``: a *unique* expression (attributes, or a spatial relation to a uniquely described anchor) →
the one object's box / visible mask. ``grec`` / ``gres``: an expression that may match several objects or none
(about a third of samples have no target) → every instance, or the explicit empty answer. ``reg``: a box or
point visual prompt → the expressions that identify that object uniquely.
"""

from __future__ import annotations

from ..record import Targets, VisualPrompt
from .examples import ANNOTATORS, Context, Example, inner_point, reading_order, visible_box, visible_rle
from .language import SUBSETS, desc_of, matching, phrase, relational_expression, unique_descriptions
from .scene import Scene

NO_TARGET_RATE = 0.3


def unique_expression(ctx: Context, scene: Scene) -> tuple[int, str, str, tuple[int, str] | None] | None:
    """(object index, expression, kind, (anchor index, relation) or None) where the expression matches that object
    and no other; a relational expression (tried first ``Context.relation_rate`` of the time) also names its
    anchor and relation."""
    attr = {i: unique_descriptions(scene, i) for i in range(len(scene.objects))}
    use_relation = ctx.rng.random() < ctx.relation_rate
    order = [True, False] if use_relation else [False, True]
    for relational in order:
        if relational:
            found = {i: relational_expression(scene, i, ctx.rng) for i in range(len(scene.objects))}
            cands = [i for i, e in found.items() if e]
            if cands:
                i = ctx.pick(scene, cands)
                expr, anchor, rel = found[i]  # type: ignore[misc]
                return i, expr, "relation", (anchor, rel)
        else:
            cands = [i for i, ds in attr.items() if ds]
            if cands:
                i = ctx.pick(scene, cands)
                d = attr[i][int(ctx.rng.integers(len(attr[i])))]
                return i, f"the {phrase(d)}", "attributes", None
    return None


def _referring(ctx: Context, task: str, with_mask: bool) -> Example:
    def make() -> Example | None:
        scene = ctx.scene()
        found = unique_expression(ctx, scene)
        if found is None:
            return None
        i, expr, kind, relation = found
        label = expr.removeprefix("the ")
        targets = Targets(boxes=[visible_box(scene, i)], labels=[label])
        if with_mask:
            targets.masks = [visible_rle(scene, i)]
        # auxiliary, for training: the relation the expression uses (None: attributes only) and its anchor's mask
        meta = {"expression_kind": kind, "object": i, "relation": relation[1] if relation else None}
        if relation is not None:
            meta["anchor_mask"] = visible_rle(scene, relation[0])
        return Example(task, [scene], {"phrase": expr}, targets, meta=meta)

    return ctx.retry(make)


@ANNOTATORS.register("rec")
def rec(ctx: Context) -> Example:
    return _referring(ctx, "rec", with_mask=False)


@ANNOTATORS.register("res")
def res(ctx: Context) -> Example:
    return _referring(ctx, "res", with_mask=True)


def group_expression(ctx: Context, scene: Scene) -> tuple[list[int], str]:
    """An expression for a group: several objects, one, or (``NO_TARGET_RATE`` of the time) none."""
    if ctx.rng.random() < NO_TARGET_RATE:
        for _ in range(20):
            colour, shape = ctx.combo()
            d = {"colour": colour, "shape": shape}
            if ctx.rng.random() < 0.5:
                d = {"shape": shape} if ctx.rng.random() < 0.5 else {"colour": colour}
            if not matching(scene, d):
                break
    else:
        anchor = scene.objects[ctx.pick(scene, range(len(scene.objects)))]
        options = [desc_of(anchor, s) for s in SUBSETS]
        several = [d for d in options if len(matching(scene, d)) > 1]
        d = ctx.choice(several) if several and ctx.rng.random() < 0.7 else ctx.choice(options)
    # The task's templates read "Find every {phrase}", "Box each {phrase}": a bare singular noun phrase.
    return matching(scene, d), phrase(d)


def _generalised(ctx: Context, task: str, with_mask: bool) -> Example:
    scene = ctx.scene()
    idx, expr = group_expression(ctx, scene)
    idx = reading_order(scene, idx)
    targets = Targets(boxes=[visible_box(scene, i) for i in idx], labels=[expr] * len(idx))
    if with_mask:
        targets.masks = [visible_rle(scene, i) for i in idx]
    return Example(task, [scene], {"phrase": expr}, targets, meta={"n_targets": len(idx)})


@ANNOTATORS.register("grec")
def grec(ctx: Context) -> Example:
    return _generalised(ctx, "grec", with_mask=False)


@ANNOTATORS.register("gres")
def gres(ctx: Context) -> Example:
    return _generalised(ctx, "gres", with_mask=True)


@ANNOTATORS.register("reg")
def reg(ctx: Context) -> Example:
    def make() -> Example | None:
        scene = ctx.scene()
        cands = [i for i in range(len(scene.objects)) if unique_descriptions(scene, i)]
        if not cands:
            return None
        i = ctx.pick(scene, cands)
        refs = [f"the {phrase(d)}" for d in unique_descriptions(scene, i)]
        first = int(ctx.rng.integers(len(refs)))
        refs = [refs[first], *refs[:first], *refs[first + 1 :]]
        if ctx.rng.random() < 0.5:
            vp = VisualPrompt("box", 0, box=visible_box(scene, i))
        else:
            vp = VisualPrompt("point", 0, point=inner_point(scene, i))
        targets = Targets(boxes=[visible_box(scene, i)], labels=[refs[0]], answers=refs)
        return Example("reg", [scene], {}, targets, [vp], meta={"object": i})

    return ctx.retry(make)

"""Multi-image tasks (2–4 scenes per sample).

``attcoseg``: exactly two images hold one object with the asked attributes (colour + shape); the answer names
them and segments the object in each. ``coseg``: one shape class is common to every image; its (union) mask in
each. ``nlvr``: a true/false statement about an image pair (balanced). ``which_image``: exactly one image holds
the described object.
"""

from __future__ import annotations

from ..record import Targets
from .examples import ANNOTATORS, Context, Example, union_box, union_rle, visible_box, visible_rle
from .language import article, matching, number_word, phrase
from .scene import SHAPES, Scene, Want


def _n_images(ctx: Context) -> int:
    return int(ctx.rng.integers(2, 5))


def _without(colour: str, shape: str):
    """Predicate for random objects: anything but a ``colour`` ``shape``."""
    return lambda s, c, z: not (s == shape and c == colour)


@ANNOTATORS.register("attcoseg")
def attcoseg(ctx: Context) -> Example:
    def make() -> Example | None:
        k = _n_images(ctx)
        colour, shape = ctx.combo()
        pos = sorted(ctx.rng.choice(k, size=2, replace=False).tolist())
        allow = _without(colour, shape)
        scenes: list[Scene] = []
        for j in range(k):
            if j in pos:
                scenes.append(ctx.scene([Want(shape=shape, colour=colour)], with_focus=False, allow=allow))
            else:
                # A distractor sharing one attribute makes the negatives informative.
                distract = Want(shape=shape) if ctx.rng.random() < 0.5 else Want(colour=colour)
                s = ctx.sampler.sample(ctx.rng, wants=[distract], allow=allow)
                if matching(s, {"colour": colour, "shape": shape}):
                    return None
                scenes.append(s)
        hits = [matching(s, {"colour": colour, "shape": shape}) for s in scenes]
        assert [j for j, h in enumerate(hits) if h] == pos and all(len(hits[j]) == 1 for j in pos)
        label = phrase({"colour": colour, "shape": shape})
        targets = Targets(
            boxes=[visible_box(scenes[j], hits[j][0]) for j in pos],
            masks=[visible_rle(scenes[j], hits[j][0]) for j in pos],
            image_ids=pos,
            labels=[label, label],
        )
        return Example(
            "attcoseg",
            scenes,
            {"phrase": article(label)},
            targets,
            meta={"attributes": {"colour": colour, "shape": shape}},
        )

    return ctx.retry(make)


@ANNOTATORS.register("coseg")
def coseg(ctx: Context) -> Example:
    def make() -> Example | None:
        k = _n_images(ctx)
        common = ctx.focus[1] if ctx.focus else ctx.choice(SHAPES)
        others = [s for s in SHAPES if s != common]
        # Each other class is allowed in all but one image, so the common class is the only shared one.
        banned = {s: int(ctx.rng.integers(k)) for s in others}
        scenes = []
        for j in range(k):
            allowed = [common] + [s for s in others if banned[s] != j]
            want = Want(shape=common, colour=ctx.focus[0]) if ctx.focus and j == 0 else Want(shape=common)
            scenes.append(ctx.scene([want], with_focus=False, shapes=allowed))
        shared = set.intersection(*({o.shape for o in s.objects} for s in scenes))
        if shared != {common}:
            return None
        idx = [matching(s, {"shape": common}) for s in scenes]
        targets = Targets(
            boxes=[union_box(s, i) for s, i in zip(scenes, idx)],
            masks=[union_rle(s, i) for s, i in zip(scenes, idx)],
            image_ids=list(range(k)),
            labels=[common] * k,
        )
        return Example("coseg", scenes, {}, targets, meta={"common_shape": common})

    return ctx.retry(make)


def _count_statement(ctx: Context, a: Scene, b: Scene) -> tuple[str, bool, dict[str, str]]:
    shape = ctx.choice(SHAPES)
    na, nb = len(matching(a, {"shape": shape})), len(matching(b, {"shape": shape}))
    plural = phrase({"shape": shape}, plural=True)
    if ctx.rng.random() < 0.5:
        return f"The first image has more {plural} than the second image.", na > nb, {"shape": shape}
    n = int(ctx.rng.integers(0, 4))
    if n == 0:
        statement = f"There are no {plural} in the two images together."
    elif n == 1:
        statement = f"There is exactly one {shape} in the two images together."
    else:
        statement = f"There are exactly {number_word(n)} {plural} in the two images together."
    return statement, na + nb == n, {"shape": shape}


@ANNOTATORS.register("nlvr")
def nlvr(ctx: Context) -> Example:
    want_true = bool(ctx.rng.random() < 0.5)  # balance the answers

    def make() -> Example | None:
        colour, shape = ctx.combo()
        kind = ctx.choice(("both", "only", "count"))
        d = {"colour": colour, "shape": shape}
        p = phrase(d)
        if kind == "count":
            a, b = ctx.scene(), ctx.scene()
            statement, truth, d = _count_statement(ctx, a, b)
        else:
            has = [ctx.rng.random() < 0.5, ctx.rng.random() < 0.5]
            if ctx.focus and not any(has):  # the compositional split must show the held-out pair
                has[int(ctx.rng.integers(2))] = True
            a, b = (ctx.scene([Want(shape=shape, colour=colour)] if h else [], with_focus=False,
                              allow=None if h else _without(colour, shape)) for h in has)  # fmt: skip
            ha, hb = bool(matching(a, d)), bool(matching(b, d))
            if kind == "both":
                statement, truth = f"Both images contain {article(p)}.", ha and hb
            else:
                statement, truth = (
                    f"The second image contains {article(p)} but the first image does not.",
                    hb and not ha,
                )
        if truth != want_true:
            return None
        targets = Targets(answers=["true" if truth else "false"])
        if "nlvr" in ctx.cite_referents:  # every object of either image that the statement names
            found = [(k, i) for k, s in enumerate((a, b)) for i in matching(s, d)]
            targets.boxes = [visible_box((a, b)[k], i) for k, i in found]
            targets.labels = [phrase(d)] * len(found)
            targets.image_ids = [k for k, _ in found]
        return Example("nlvr", [a, b], {"statement": statement}, targets, meta={"statement_kind": kind})

    return ctx.retry(make, tries=200)


@ANNOTATORS.register("which_image")
def which_image(ctx: Context) -> Example:
    def make() -> Example | None:
        k = _n_images(ctx)
        colour, shape = ctx.combo()
        d = {"colour": colour, "shape": shape}
        if ctx.rng.random() < 0.3:
            d["size"] = ctx.choice(("small", "medium", "large"))
        hit = int(ctx.rng.integers(k))
        scenes = []
        for j in range(k):
            if j == hit:
                scenes.append(ctx.scene([Want(**d)], with_focus=False))
            else:
                scenes.append(ctx.sampler.sample(ctx.rng, wants=[Want(shape=shape)], allow=_without(colour, shape)))
        if [j for j, s in enumerate(scenes) if matching(s, d)] != [hit]:
            return None
        return Example(
            "which_image", scenes, {"phrase": article(phrase(d))}, Targets(image_ids=[hit]), meta={"attributes": d}
        )

    return ctx.retry(make)

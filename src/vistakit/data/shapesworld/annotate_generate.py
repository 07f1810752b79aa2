"""Image generation tasks: ``generate`` (a description → the scene spec to draw, kept in ``meta`` with the
rendered target image) and ``edit`` (a scene + an instruction → the edited scene: recolour, remove, add or
resize one uniquely described object; both images are written)."""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from ...registry import Registry
from ..record import Targets
from .annotate_text import background_words
from .examples import ANNOTATORS, Context, Example
from .language import article, desc_of, list_phrase, phrase, unique_descriptions
from .scene import SHAPE_RADIUS, SHAPES, SIZES, Scene, SceneSamplingError, Want


def where_words(scene: Scene, i: int) -> str:
    """'in the top left', 'on the right', 'at the top', 'in the centre' … from the object's centre in thirds."""
    x, y = scene.objects[i].center
    col = ("left", "", "right")[min(2, int(3 * x / scene.width))]
    row = ("top", "", "bottom")[min(2, int(3 * y / scene.height))]
    if row and col:
        return f"in the {row} {col}"
    if col:
        return f"on the {col}"
    return f"at the {row}" if row else "in the centre"


def scene_description(scene: Scene) -> str:
    items = [f"{article(phrase(desc_of(o)))} {where_words(scene, i)}" for i, o in enumerate(scene.objects)]
    return f"{list_phrase(items)} on a {background_words(scene)}"


@ANNOTATORS.register("generate")
def generate(ctx: Context) -> Example:
    scene = ctx.scene(n=int(ctx.rng.integers(1, 4)))
    desc = scene_description(scene)
    meta = {"scene": scene.to_json(), "description": desc}
    return Example("generate", [], {"description": desc}, Targets(), meta=meta,
                   extra_scenes={"target_image": scene})  # fmt: skip


# --- edits: each returns (instruction, edited scene) or None -------------------------------------------------
Edit = Callable[[Context, Scene], "tuple[str, Scene] | None"]
EDITS: Registry[Edit] = Registry("ShapesWorld edit")


def _target(ctx: Context, scene: Scene, shapes_only: bool = False) -> tuple[int, str] | None:
    cands = [i for i in range(len(scene.objects)) if unique_descriptions(scene, i)]
    if shapes_only:
        cands = [i for i in cands if not scene.objects[i].is_figure]
    if not cands:
        return None
    i = ctx.pick(scene, cands)
    return i, "the " + phrase(unique_descriptions(scene, i)[0])


def _swap(scene: Scene, i: int, **changes) -> Scene:
    objs = list(scene.objects)
    objs[i] = replace(objs[i], **changes)
    return scene.with_objects(objs)


@EDITS.register("recolour")
def _recolour(ctx: Context, scene: Scene) -> tuple[str, Scene] | None:
    found = _target(ctx, scene)
    if found is None:
        return None
    i, name = found
    obj = scene.objects[i]
    options = [c for c in ctx.sampler.cfg.colours if c != obj.colour and (c, obj.shape) not in ctx.holdout]
    if not options:
        return None
    colour = ctx.choice(options)
    # a new colour takes a new shade of it (None, drawing nothing, without shade jitter)
    return f"Make {name} {colour}.", _swap(scene, i, colour=colour, shade=ctx.sampler.shade(ctx.rng, colour))


@EDITS.register("remove")
def _remove(ctx: Context, scene: Scene) -> tuple[str, Scene] | None:
    if len(scene.objects) < 2:
        return None
    found = _target(ctx, scene)
    if found is None:
        return None
    i, name = found
    return f"Remove {name}.", scene.with_objects(scene.objects[:i] + scene.objects[i + 1 :])


@EDITS.register("add")
def _add(ctx: Context, scene: Scene) -> tuple[str, Scene] | None:
    try:
        edited = ctx.sampler.add_object(ctx.rng, scene, Want(shape=ctx.choice(SHAPES)))
    except SceneSamplingError:
        return None
    new = edited.objects[-1]
    return f"Add {article(phrase(desc_of(new)))} {where_words(edited, len(edited.objects) - 1)}.", edited


@EDITS.register("resize")
def _resize(ctx: Context, scene: Scene) -> tuple[str, Scene] | None:
    found = _target(ctx, scene, shapes_only=True)
    if found is None:
        return None
    i, name = found
    obj = scene.objects[i]
    size = ctx.choice([s for s in SIZES if s != obj.size])
    radius = obj.radius * SHAPE_RADIUS[size] / SHAPE_RADIUS[obj.size]
    edited = _swap(scene, i, size=size, radius=radius)
    x, y = obj.center
    inside = radius + 1 <= min(x, y, scene.width - x, scene.height - y)
    if not inside or not ctx.sampler.is_valid(edited) or unique_descriptions(edited, i) == []:
        return None
    return f"Make {name} {size}.", edited


@ANNOTATORS.register("edit")
def edit(ctx: Context) -> Example:
    def make() -> Example | None:
        scene = ctx.scene()
        kind = ctx.choice(EDITS.names())
        out = EDITS.get(kind)(ctx, scene)
        if out is None:
            return None
        instruction, edited = out
        meta = {"edit": kind, "instruction": instruction, "scene": scene.to_json(), "edited_scene": edited.to_json()}
        return Example("edit", [scene], {"instruction": instruction}, Targets(), meta=meta,
                       extra_scenes={"target_image": edited})  # fmt: skip

    return ctx.retry(make)

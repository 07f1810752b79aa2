"""Words for ShapesWorld objects: descriptions, matching, uniqueness and spatial relations.

A *description* is a partial attribute set ``{"size": .., "colour": .., "shape": ..}`` (any key may be absent);
it matches an object when every given attribute equals the object's. Positions are object centres in pixels.
"""

from __future__ import annotations

import itertools
from typing import Mapping, Sequence

import numpy as np

from .scene import Scene, SceneObject

Desc = Mapping[str, str]
ATTRS = ("size", "colour", "shape")
# Attribute subsets tried when looking for a unique description, shortest first; shape-less ones say "object".
SUBSETS: tuple[tuple[str, ...], ...] = (
    ("shape",), ("colour",), ("colour", "shape"), ("size", "shape"), ("size", "colour"), ("size", "colour", "shape"),
)  # fmt: skip
RELATIONS = ("left of", "right of", "above", "below")
NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def desc_of(obj: SceneObject, attrs: Sequence[str] = ATTRS) -> dict[str, str]:
    return {a: getattr(obj, a) for a in attrs}


def phrase(desc: Desc, plural: bool = False) -> str:
    """'large red circle', 'red object', 'stars' (no article)."""
    noun = desc.get("shape", "object")
    if plural:
        noun = noun + ("es" if noun.endswith("x") else "s")
    words = [desc[a] for a in ("size", "colour") if a in desc]
    return " ".join([*words, noun])


def article(words: str) -> str:
    return ("an " if words[0] in "aeiou" else "a ") + words


def matches(obj: SceneObject, desc: Desc) -> bool:
    return all(getattr(obj, a) == v for a, v in desc.items())


def matching(scene: Scene, desc: Desc) -> list[int]:
    """Indices of the scene's objects that ``desc`` matches."""
    return [i for i, o in enumerate(scene.objects) if matches(o, desc)]


def unique_descriptions(scene: Scene, index: int) -> list[dict[str, str]]:
    """Every description (from :data:`SUBSETS`) matching object ``index`` and no other, shortest first."""
    obj = scene.objects[index]
    return [d for d in (desc_of(obj, s) for s in SUBSETS) if matching(scene, d) == [index]]


def relation_margin(scene: Scene) -> float:
    """Centres must differ by at least this many pixels for a spatial relation to count."""
    return 0.08 * min(scene.width, scene.height)


def relation_value(a: SceneObject, b: SceneObject, relation: str) -> float:
    """Signed offset of ``a`` from ``b`` along ``relation`` (positive: the relation holds that far)."""
    dx, dy = a.center[0] - b.center[0], a.center[1] - b.center[1]
    return {"left of": -dx, "right of": dx, "above": -dy, "below": dy}[relation]


def holds(scene: Scene, a: int, b: int, relation: str) -> bool | None:
    """True / False when clearly so (by :func:`relation_margin`), None when too close to call."""
    v = relation_value(scene.objects[a], scene.objects[b], relation)
    m = relation_margin(scene)
    if v >= m:
        return True
    return False if v <= 0 else None


def relational_expression(scene: Scene, target: int, rng: np.random.Generator) -> tuple[str, int, str] | None:
    """('the star left of the blue square', anchor index, 'left of') naming ``target`` uniquely through a uniquely
    described anchor, or None when no such expression exists."""
    obj = scene.objects[target]
    options: list[tuple[str, int, str]] = []
    for head_attrs in (("shape",), ("colour", "shape")):
        head = desc_of(obj, head_attrs)
        group = matching(scene, head)
        if len(group) < 2:
            continue  # the head alone is unique; a relation would be redundant
        for anchor, rel in itertools.product(range(len(scene.objects)), RELATIONS):
            if anchor == target or holds(scene, target, anchor, rel) is not True:
                continue
            if any(holds(scene, k, anchor, rel) is not False for k in group if k not in (target, anchor)):
                continue
            anchor_descs = unique_descriptions(scene, anchor)
            if anchor_descs:
                options.append((f"the {phrase(head)} {rel} the {phrase(anchor_descs[0])}", anchor, rel))
    return options[int(rng.integers(len(options)))] if options else None


def number_word(n: int) -> str:
    return NUMBER_WORDS[n] if 0 <= n < len(NUMBER_WORDS) else str(n)


def list_phrase(items: Sequence[str]) -> str:
    """'a, b and c'."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]

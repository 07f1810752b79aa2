"""Co-segmentation groups built from COCO instances (and captions) → ``coseg`` and ``attcoseg`` records.

* ``coco-coseg``: groups of ``group_size`` images (default 3) that share one category and **no other** (every
  category annotated in an image counts, crowd ones too), so naming the common object is unambiguous. The target
  in each image is the union of the category's instance masks (and their enclosing box). Images are grouped per
  category, greedily: each group starts from the next image of a seeded shuffle and adds, from a window of the
  following candidates, the image that leaves the fewest shared categories.
* ``coco-attcoseg``: VistaLLM's AttCoSeg built from COCO: the two images of a record hold **one** instance of a
  category that their captions describe with the same attribute word right before the category name ("a red
  bus"); the other ``group_size - 2`` images (default 4 in all) are distractors: first images whose single
  instance of the category the captions describe with a *different* attribute ("a white bus"), then images
  without the category at all. Images whose captions give the category two attributes are used for neither.
  Attribute words come from the captions; ``attributes`` only lists which words count (default: colour words).

Images with a crowd annotation of the category are left out (a crowd region is not one object and has no exact
mask). Masks are COCO RLE of the original image; boxes xyxy in original pixels.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from ..record import Targets
from .base import Conversion, Converter, RecordBuilder, get_field, register_converter
from .coco import CocoFile, ann_box, ann_mask_rle, default_split

DEFAULT_ATTRIBUTES = (
    "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "gray", "silver",
)  # fmt: skip
WINDOW = 64  # candidates looked at when completing a co-segmentation group (keeps grouping linear in the pool)
_WORDS = re.compile(r"[a-z]+(?:[ -][a-z]+)*")


class Instances:
    """The usable part of a COCO instances file, per image (the first ``limit`` images by id).

    ``categories[iid]``: every category name annotated in the image (crowd too). ``objects[iid][name]``: the
    image's non-crowd annotations of ``name`` as ``(index in the file, annotation)``. ``crowded[iid]``: names
    with a crowd annotation in the image.
    """

    def __init__(self, coco: CocoFile, limit: int | None) -> None:
        self.coco = coco
        self.image_ids = [iid for iid, _ in coco.images_in_order(limit)]
        self.categories: dict[int, set[str]] = {}
        self.objects: dict[int, dict[str, list[tuple[int, dict[str, Any]]]]] = {}
        self.crowded: dict[int, set[str]] = {}
        for iid in self.image_ids:
            cats, objs, crowd = set(), defaultdict(list), set()
            for idx, a in coco.anns_by_image.get(iid, []):
                name = coco.categories[a["category_id"]]["name"]
                cats.add(name)
                if a.get("iscrowd", 0):
                    crowd.add(name)
                else:
                    objs[name].append((idx, a))
            self.categories[iid], self.objects[iid], self.crowded[iid] = cats, dict(objs), crowd

    def usable(self, iid: int, name: str) -> bool:
        """Whether ``name`` has non-crowd instances in image ``iid`` and no crowd region."""
        return bool(self.objects[iid].get(name)) and name not in self.crowded[iid]

    def target(self, iid: int, name: str) -> tuple[list[float], dict[str, Any], list[int]] | None:
        """(enclosing xyxy box, union RLE mask, annotation ids) of ``name``'s instances in ``iid``; ``None`` when
        nothing of them is left inside the image."""
        from ...geometry import Mask

        im = self.coco.images[iid]
        boxes, kept, ids = [], [], []
        for idx, a in self.objects[iid][name]:
            box = ann_box(a, im.size, self.coco.where(idx))
            if box is None:
                continue
            boxes.append(box)
            kept.append((idx, a))
            ids.append(a.get("id"))
        if not boxes:
            return None
        segs = [a.get("segmentation") for _, a in kept]
        if all(isinstance(s, list) for s in segs):  # polygons only: one rasterisation of all of them is the union
            rle = ann_mask_rle({"segmentation": sum(segs, [])}, im.size, self.coco.where(kept[0][0]))
            union = Mask.from_rle(rle).array
        else:
            union = np.zeros((im.size[1], im.size[0]), bool)
            for idx, a in kept:
                union |= Mask.from_rle(ann_mask_rle(a, im.size, self.coco.where(idx))).array
        if not union.any():
            return None
        box = [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]
        return box, Mask(union).to_rle(), ids


def _check_group_size(group_size: int, least: int) -> None:
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < least:
        raise ValueError(f"group size must be an integer number of images >= {least}, got {group_size!r}")


def _start(coco: CocoFile, what: str, split: str | None, limit: int | None) -> tuple[str, Conversion]:
    conv = Conversion(source=f"COCO {what} groups from {coco.path.name}")
    conv.counts = {"images": len(coco.images), "annotations": coco.num_annotations}
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive number of images, got {limit}")
    return split or default_split(coco.path), conv


# --- coco-coseg -----------------------------------------------------------------------------------------
def _pick_group(pool: list[int], name: str, cats: dict[int, set[str]], n: int) -> list[int] | None:
    """``n`` images from the front of ``pool`` whose only shared category is ``name``, else ``None``."""
    chosen, shared = [pool[0]], set(cats[pool[0]])
    window = pool[1 : 1 + WINDOW]
    while len(chosen) < n:
        rest = [c for c in window if c not in chosen]
        if not rest:
            return None
        best = min(rest, key=lambda c: len(shared & cats[c]))  # first of the best: pool order breaks ties
        chosen.append(best)
        shared &= cats[best]
    return chosen if shared == {name} else None


def convert_coco_coseg(
    annotations: str | Path,
    images: str | Path | None = None,
    group_size: int = 3,
    split: str | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> Conversion:
    """``coseg`` records: groups of ``group_size`` images sharing exactly one COCO category."""
    _check_group_size(group_size, 2)
    coco = CocoFile(annotations, images)
    split, conv = _start(coco, "co-segmentation", split, limit)
    inst = Instances(coco, limit)
    rng = random.Random(seed)
    builder = RecordBuilder(seed)
    names = sorted({n for iid in inst.image_ids for n in inst.categories[iid]})
    for name in names:
        pool = [iid for iid in inst.image_ids if inst.usable(iid, name)]
        rng.shuffle(pool)
        k = 0
        while len(pool) >= group_size:
            group = _pick_group(pool, name, inst.categories, group_size)
            if group is None:
                conv.skip("coseg: image with no group where its category is the only shared one")
                pool.pop(0)
                continue
            pool = [iid for iid in pool if iid not in group]
            found = [inst.target(iid, name) for iid in group]
            if any(t is None for t in found):
                conv.skip("coseg: group with an image whose target lies outside it")
                continue
            ims = [coco.images[iid] for iid in group]
            rels = [coco.record_image(im, conv) for im in ims]
            targets = Targets(
                boxes=[t[0] for t in found if t], masks=[t[1] for t in found if t],
                image_ids=list(range(len(group))), labels=[name] * len(group),
            )  # fmt: skip
            meta = {"source": "coco", "category": name, "coco_image_ids": group,
                    "coco_ann_ids": [t[2] for t in found if t]}  # fmt: skip
            rid = f"coco-coseg-{split}-{name.replace(' ', '_')}-{k}"
            conv.add(split, builder.build("coseg", rid, rels, [im.size for im in ims], targets, meta=meta))
            k += 1
        if pool:
            conv.skip("coseg: image left over after grouping its category", len(pool))
    return conv


# --- coco-attcoseg --------------------------------------------------------------------------------------
def parse_attributes(words: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Attribute words (lower case) from a comma-separated string or a list; ``None`` → the colour words."""
    if words is None:
        return DEFAULT_ATTRIBUTES
    items = words.split(",") if isinstance(words, str) else list(words)
    out = tuple(dict.fromkeys(" ".join(str(w).lower().split()) for w in items if str(w).strip()))
    bad = [w for w in out if not _WORDS.fullmatch(w)]
    if not out or bad:
        raise ValueError(
            f"attributes must be comma-separated words of letters (e.g. red,blue,wooden), got {words!r:.80}"
        )
    return out


def caption_mentions(
    captions: CocoFile, inst: Instances, attributes: tuple[str, ...]
) -> tuple[dict[int, dict[str, set[str]]], dict[int, dict[str, str]]]:
    """Per image: category name → the attribute words its captions put right before that name (singular or
    plural: "red bus", "red buses"), and category name → the first caption that did."""
    alt = "|".join(re.escape(a) for a in sorted(attributes, key=len, reverse=True))
    patterns: dict[str, re.Pattern[str]] = {}
    mentions: dict[int, dict[str, set[str]]] = {}
    evidence: dict[int, dict[str, str]] = {}
    for iid in inst.image_ids:
        texts = []
        for idx, a in captions.anns_by_image.get(iid, []):
            texts.append(" ".join(get_field(a, "caption", str, captions.where(idx)).lower().split()))
        found: dict[str, set[str]] = {}
        ev: dict[str, str] = {}
        for name in inst.categories[iid]:
            pat = patterns.setdefault(name, re.compile(rf"\b({alt})\s+{re.escape(name.lower())}(?:e?s)?\b"))
            for text in texts:
                for m in pat.finditer(text):
                    found.setdefault(name, set()).add(m.group(1))
                    ev.setdefault(name, text)
        mentions[iid], evidence[iid] = found, ev
    return mentions, evidence


def _article(phrase: str) -> str:
    return ("an " if phrase[:1] in "aeiou" else "a ") + phrase


def convert_coco_attcoseg(
    annotations: str | Path,
    captions: str | Path | None,
    images: str | Path | None = None,
    attributes: str | list[str] | tuple[str, ...] | None = None,
    group_size: int = 4,
    split: str | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> Conversion:
    """``attcoseg`` records: two images sharing an (attribute, category) object among distractors."""
    _check_group_size(group_size, 2)
    if captions is None:
        raise ValueError("coco-attcoseg needs --captions captions_*.json (the captions of the same images)")
    attrs = parse_attributes(attributes)
    coco = CocoFile(annotations, images)
    caps = CocoFile(captions, images, need_categories=False)
    split, conv = _start(coco, "attribute co-segmentation", split, limit)
    inst = Instances(coco, limit)
    if not any(caps.anns_by_image.get(iid) for iid in inst.image_ids):
        raise ValueError(
            f"{caps.path}: none of its captions is of an image of {coco.path}; expected the captions file of the "
            "same images (e.g. captions_val2017.json with instances_val2017.json)"
        )
    mentions, evidence = caption_mentions(caps, inst, attrs)
    conv.counts["captions"] = caps.num_annotations

    def single(iid: int, name: str) -> bool:
        return inst.usable(iid, name) and len(inst.objects[iid][name]) == 1

    positives: dict[tuple[str, str], list[int]] = defaultdict(list)
    described: dict[str, list[int]] = defaultdict(list)  # category → images whose single instance has one attribute
    for iid in inst.image_ids:
        for name, words in mentions[iid].items():
            if not single(iid, name):
                conv.skip("attcoseg: described category with several instances or a crowd region")
            elif len(words) > 1:
                conv.skip("attcoseg: captions give the category several attributes")
            else:
                positives[(next(iter(words)), name)].append(iid)
                described[name].append(iid)
    rng = random.Random(seed)
    builder = RecordBuilder(seed)
    for (attr, name), ids in sorted(positives.items()):
        rng.shuffle(ids)
        if len(ids) % 2:
            conv.skip("attcoseg: positive image without a partner")
        hard = [iid for iid in described[name] if attr not in mentions[iid][name]]
        for p in range(0, len(ids) - 1, 2):
            pair = ids[p : p + 2]
            others = _distractors(rng, hard, inst, name, pair, group_size - 2)
            if others is None:
                conv.skip("attcoseg: pair without enough distractor images")
                continue
            order = pair + others
            rng.shuffle(order)
            pos = sorted(order.index(iid) for iid in pair)
            found = [inst.target(order[k], name) for k in pos]
            if any(t is None for t in found):
                conv.skip("attcoseg: target outside its image")
                continue
            ims = [coco.images[iid] for iid in order]
            rels = [coco.record_image(im, conv) for im in ims]
            label = f"{attr} {name}"
            targets = Targets(boxes=[t[0] for t in found if t], masks=[t[1] for t in found if t],
                              image_ids=pos, labels=[label, label])  # fmt: skip
            meta = {"source": "coco", "attribute": attr, "category": name, "coco_image_ids": order,
                    "coco_ann_ids": [t[2][0] for t in found if t],
                    "hard_distractors": sum(iid in hard for iid in others),
                    "evidence": [evidence[order[k]][name] for k in pos]}  # fmt: skip
            rid = f"coco-attcoseg-{split}-{attr.replace(' ', '_')}-{name.replace(' ', '_')}-{p // 2}"
            conv.add(split, builder.build("attcoseg", rid, rels, [im.size for im in ims], targets,
                                          slots={"phrase": _article(label)}, meta=meta))  # fmt: skip
    return conv


def _distractors(
    rng: random.Random, hard: list[int], inst: Instances, name: str, pair: list[int], m: int
) -> list[int] | None:
    """``m`` distractor images: hard ones (the category described otherwise) first, then images without it."""
    picks = [iid for iid in hard if iid not in pair]
    rng.shuffle(picks)
    picks = picks[:m]
    taken = set(pair) | set(picks)
    for _ in range(20 * m):  # rejection sampling first: the category is absent from most images
        if len(picks) == m:
            return picks
        iid = rng.choice(inst.image_ids)
        if iid not in taken and name not in inst.categories[iid]:
            picks.append(iid)
            taken.add(iid)
    free = [iid for iid in inst.image_ids if iid not in taken and name not in inst.categories[iid]]
    if len(picks) + len(free) < m:
        return None
    picks += rng.sample(free, m - len(picks))
    return picks


# --- registration ---------------------------------------------------------------------------------------
def _arguments(group: Any) -> None:
    group.add_argument("--group-size", type=int, metavar="N",
                       help="coco-coseg / coco-attcoseg: images per record (default 3 / 4)")  # fmt: skip
    group.add_argument("--captions", metavar="JSON",
                       help="coco-attcoseg: the COCO captions_*.json of the same images (the attribute words' source)")  # fmt: skip
    group.add_argument("--attributes", metavar="WORDS",
                       help="coco-attcoseg: comma-separated attribute words looked for right before a category "
                            "name in the captions (default: colour words)")  # fmt: skip


register_converter(Converter(
    "coco-coseg", "COCO instances_*.json → coseg records (groups of images sharing exactly one category)",
    lambda a: convert_coco_coseg(a.annotations, a.images, 3 if a.group_size is None else a.group_size, a.split,
                                 a.limit, a.seed),
    _arguments,
))  # fmt: skip
register_converter(Converter(
    "coco-attcoseg", "COCO instances_*.json + --captions captions_*.json → attcoseg records (VistaLLM's AttCoSeg)",
    lambda a: convert_coco_attcoseg(a.annotations, a.captions, a.images, a.attributes,
                                    4 if a.group_size is None else a.group_size,
                                    a.split, a.limit, a.seed),
))  # fmt: skip

"""COCO annotation files (``instances_*.json``, ``captions_*.json``, ``person_keypoints_*.json``) → records.

* ``coco-instances``: one ``detection`` record per image (non-crowd instances: ``labels`` + xyxy ``boxes``;
  with ``--masks`` also their ``masks`` as COCO RLE, and one ``res`` record per instance whose category is
  unique in its image — a category that occurs twice would make "segment the dog" ambiguous).
  Crowd annotations (``iscrowd: 1``, RLE segmentation) are ignore regions in COCO's own evaluation, so they are
  kept out of the targets and stored in ``meta["crowd"]`` (label, xyxy box and compressed RLE mask).
* ``coco-captions``: one ``caption`` record per image, every reference caption in ``targets.answers``.
* ``coco-keypoints``: one ``pose`` record per image with at least one labelled person (``num_keypoints > 0``):
  ``keypoints`` (COCO names, visibility 0/1/2), ``boxes`` and ``labels`` per person.

COCO ``bbox`` is ``[x, y, w, h]`` in original pixels; records hold xyxy clipped to the image. Image sizes come
from the ``images`` entries (``width``/``height``), else from the image file header under ``--images``.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..record import Targets
from .base import (
    Conversion,
    Converter,
    RecordBuilder,
    find_image,
    get_field,
    image_size_from_file,
    load_json,
    register_converter,
    require_dir,
    require_file,
    xywh_to_xyxy,
)


@dataclass
class CocoImage:
    id: int
    file_name: str
    size: tuple[int, int]  # (width, height)
    path: Path | None  # the image file under --images, if found


class CocoFile:
    """A parsed, validated COCO annotation file: images by id, categories by id, annotations by image id."""

    def __init__(self, path: str | Path, images_dir: str | Path | None = None, need_categories: bool = True) -> None:
        self.path = require_file(path, "COCO annotation file")
        data = load_json(self.path, "COCO annotation file")
        where = str(self.path)
        if not isinstance(data, dict):
            raise ValueError(
                f"{where}: expected a COCO JSON object with 'images' and 'annotations', got {type(data).__name__}"
            )
        images = get_field(data, "images", list, where)
        anns = get_field(data, "annotations", list, where)
        self.images_dir = require_dir(images_dir, "--images")
        self.images: dict[int, CocoImage] = {}
        for i, im in enumerate(images):
            w = f"{where}: images[{i}]"
            iid = get_field(im, "id", int, w)
            name = get_field(im, "file_name", str, w)
            path_ = find_image(self.images_dir, name)
            if isinstance(im.get("width"), int) and isinstance(im.get("height"), int):
                size = (im["width"], im["height"])
            elif path_ is not None:
                size = image_size_from_file(path_)
            else:
                raise ValueError(
                    f"{w}: no 'width'/'height' and no image file {name!r} under --images to read them from"
                )
            self.images[iid] = CocoImage(iid, name, size, path_)
        self.categories: dict[int, dict[str, Any]] = {}
        if need_categories:
            for i, c in enumerate(get_field(data, "categories", list, where)):
                w = f"{where}: categories[{i}]"
                self.categories[get_field(c, "id", int, w)] = c
                get_field(c, "name", str, w)
        self.anns_by_image: dict[int, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        for i, a in enumerate(anns):
            w = f"{where}: annotations[{i}]"
            iid = get_field(a, "image_id", int, w)
            if iid not in self.images:
                raise ValueError(f"{w}: image_id {iid} is not in 'images'")
            if need_categories:
                cid = get_field(a, "category_id", int, w)
                if cid not in self.categories:
                    raise ValueError(f"{w}: category_id {cid} is not in 'categories'")
            self.anns_by_image[iid].append((i, a))
        self.num_annotations = len(anns)

    def annotation_by_id(self) -> dict[int, tuple[int, dict[str, Any]]]:
        """Annotation id → (index in the file, annotation)."""
        out = {}
        for items in self.anns_by_image.values():
            for idx, a in items:
                if isinstance(a.get("id"), int):
                    out[a["id"]] = (idx, a)
        return out

    def where(self, index: int) -> str:
        return f"{self.path}: annotations[{index}]"

    def conversion(self, what: str) -> Conversion:
        """A fresh :class:`Conversion` of this file, its source counts filled in."""
        conv = Conversion(source=f"COCO {what} {self.path.name}")
        conv.counts = {"images": len(self.images), "annotations": self.num_annotations}
        return conv

    def images_in_order(self, limit: int | None = None) -> list[tuple[int, CocoImage]]:
        """``(image_id, image)`` sorted by id, the first ``limit`` of them if given."""
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be a positive number of images, got {limit}")
        items = sorted(self.images.items())
        return items if limit is None else items[:limit]

    def record_image(self, im: CocoImage, conv: Conversion) -> str:
        """The record's image path (``images/<file_name>``), registered with its source file."""
        rel = f"images/{im.file_name}"
        conv.image_sources[rel] = im.path
        return rel


def default_split(path: Path) -> str:
    """``instances_val2017.json`` → ``val2017``; a name without ``_`` → ``train``."""
    m = re.search(r"_([A-Za-z0-9]+)$", path.stem)
    return m.group(1) if m else "train"


def ann_box(a: dict[str, Any], size: tuple[int, int], where: str) -> list[float] | None:
    bbox = get_field(a, "bbox", list, where)
    if len(bbox) != 4 or not all(isinstance(v, (int, float)) for v in bbox):
        raise ValueError(f"{where}: 'bbox' must be [x, y, w, h] numbers, got {bbox!r:.60}")
    return xywh_to_xyxy(bbox, size)


def ann_mask_rle(a: dict[str, Any], size: tuple[int, int], where: str) -> dict[str, Any]:
    from ...geometry import Mask

    seg = get_field(a, "segmentation", (list, dict), where)
    try:
        return Mask.from_coco_segmentation(seg, size[1], size[0]).to_rle()
    except ValueError as exc:
        raise ValueError(f"{where}: bad 'segmentation': {exc}") from None


# --- coco-instances -------------------------------------------------------------------------------------
def convert_coco_instances(
    annotations: str | Path,
    images: str | Path | None = None,
    split: str | None = None,
    masks: bool = False,
    limit: int | None = None,
    seed: int = 0,
) -> Conversion:
    """Detection records (and, with ``masks``, instance masks plus per-instance ``res`` records)."""
    coco = CocoFile(annotations, images)
    split = split or default_split(coco.path)
    conv = coco.conversion("instances")
    builder = RecordBuilder(seed)
    for iid, im in coco.images_in_order(limit):
        boxes, labels, rles, crowd, ann_ids = [], [], [], [], []
        for idx, a in coco.anns_by_image.get(iid, []):
            where = coco.where(idx)
            label = coco.categories[a["category_id"]]["name"]
            box = ann_box(a, im.size, where)
            if a.get("iscrowd", 0):
                crowd.append({"label": label, "box": box, "mask": ann_mask_rle(a, im.size, where)})
                conv.skip("crowd annotation (kept in meta.crowd)")
                continue
            if box is None:
                conv.skip("annotation with an empty box")
                continue
            boxes.append(box)
            labels.append(label)
            ann_ids.append(a.get("id"))
            if masks:
                rles.append(ann_mask_rle(a, im.size, where))
        if not boxes:
            conv.skip("image without non-crowd annotations")
            continue
        rel = coco.record_image(im, conv)
        meta: dict[str, Any] = {"source": "coco", "coco_image_id": iid, "coco_ann_ids": ann_ids}
        if crowd:
            meta["crowd"] = crowd
        targets = Targets(boxes=boxes, labels=labels, masks=rles if masks else None)
        slots = {"classes": ", ".join(sorted(set(labels)))}  # the listed classes: those annotated in the image
        conv.add(split, builder.build("detection", f"coco-{split}-{iid}", [rel], [im.size], targets, slots=slots, meta=meta))
        if masks:
            counts = Counter(labels)
            for box, label, rle, aid in zip(boxes, labels, rles, ann_ids):
                if counts[label] > 1:
                    conv.skip("res: category not unique in its image")
                    continue
                t = Targets(boxes=[box], masks=[rle], labels=[label])
                rec = builder.build(
                    "res",
                    f"coco-{split}-{iid}-ann{aid}",
                    [rel],
                    [im.size],
                    t,
                    slots={"phrase": f"the {label}"},
                    meta={"source": "coco", "coco_image_id": iid, "coco_ann_id": aid},
                )
                conv.add(split, rec)
    return conv


# --- coco-captions --------------------------------------------------------------------------------------
def convert_coco_captions(
    annotations: str | Path,
    images: str | Path | None = None,
    split: str | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> Conversion:
    """One caption record per image with all its reference captions (``targets.answers``, source order)."""
    coco = CocoFile(annotations, images, need_categories=False)
    split = split or default_split(coco.path)
    conv = coco.conversion("captions")
    builder = RecordBuilder(seed)
    for iid, im in coco.images_in_order(limit):
        refs = []
        for idx, a in coco.anns_by_image.get(iid, []):
            text = " ".join(get_field(a, "caption", str, coco.where(idx)).split())
            if text:
                refs.append(text)
            else:
                conv.skip("empty caption")
        if not refs:
            conv.skip("image without captions")
            continue
        rel = coco.record_image(im, conv)
        meta = {"source": "coco", "coco_image_id": iid}
        conv.add(
            split, builder.build("caption", f"coco-{split}-{iid}", [rel], [im.size], Targets(answers=refs), meta=meta)
        )
    return conv


# --- coco-keypoints -------------------------------------------------------------------------------------
def convert_coco_keypoints(
    annotations: str | Path,
    images: str | Path | None = None,
    split: str | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> Conversion:
    """One pose record per image with its labelled, non-crowd people (COCO keypoint names and visibility)."""
    coco = CocoFile(annotations, images)
    split = split or default_split(coco.path)
    conv = coco.conversion("person keypoints")
    builder = RecordBuilder(seed)
    for iid, im in coco.images_in_order(limit):
        figures, boxes, labels, ann_ids = [], [], [], []
        for idx, a in coco.anns_by_image.get(iid, []):
            where = coco.where(idx)
            cat = coco.categories[a["category_id"]]
            names = cat.get("keypoints")
            if not isinstance(names, list) or not names:
                raise ValueError(
                    f"{where}: category {cat['name']!r} has no 'keypoints' names; is this a person_keypoints file?"
                )
            if a.get("iscrowd", 0) or a.get("num_keypoints", 0) == 0:
                conv.skip("crowd or unlabelled person")
                continue
            flat = get_field(a, "keypoints", list, where)
            if len(flat) != 3 * len(names):
                raise ValueError(
                    f"{where}: 'keypoints' has {len(flat)} numbers, expected 3 per name ({3 * len(names)})"
                )
            box = ann_box(a, im.size, where)
            if box is None:
                conv.skip("annotation with an empty box")
                continue
            W, H = im.size
            vis = [int(v) for v in flat[2::3]]
            xy = [[min(max(float(x), 0.0), W), min(max(float(y), 0.0), H)] if v else [0.0, 0.0]
                  for x, y, v in zip(flat[0::3], flat[1::3], vis)]  # fmt: skip
            figures.append({"names": list(names), "xy": xy, "visibility": vis})
            boxes.append(box)
            labels.append(cat["name"])
            ann_ids.append(a.get("id"))
        if not figures:
            conv.skip("image without labelled people")
            continue
        rel = coco.record_image(im, conv)
        targets = Targets(keypoints=figures, boxes=boxes, labels=labels)
        meta = {"source": "coco", "coco_image_id": iid, "coco_ann_ids": ann_ids}
        conv.add(split, builder.build("pose", f"coco-{split}-{iid}", [rel], [im.size], targets, meta=meta))
    return conv


# --- registration ---------------------------------------------------------------------------------------
def _common(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "annotations": args.annotations,
        "images": args.images,
        "split": args.split,
        "limit": args.limit,
        "seed": args.seed,
    }


def _instances_arguments(group: Any) -> None:
    group.add_argument("--masks", action="store_true",
                       help="coco-instances: add instance masks to detection targets and write per-instance res records")  # fmt: skip


register_converter(Converter(
    "coco-instances", "COCO instances_*.json → detection (and res with --masks) records",
    lambda a: convert_coco_instances(masks=a.masks, **_common(a)), _instances_arguments,
))  # fmt: skip
register_converter(Converter(
    "coco-captions", "COCO captions_*.json → caption records (all references)",
    lambda a: convert_coco_captions(**_common(a)),
))  # fmt: skip
register_converter(Converter(
    "coco-keypoints", "COCO person_keypoints_*.json → pose records",
    lambda a: convert_coco_keypoints(**_common(a)),
))  # fmt: skip

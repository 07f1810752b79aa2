"""gRefCOCO (generalised referring expressions: an expression may name no object, one, or several) → ``grec``
records (boxes) and ``gres`` records (masks).

Source layout, as gRefCOCO publishes it (and ReLA's ``grefer.py`` reads it):

* ``grefs(unc).json`` — a JSON list of refs ``{ref_id, image_id, split, file_name, ann_id, category_id,
  no_target, sentences: [{sent, raw, tokens, sent_id}], sent_ids}``. ``ann_id`` is a list of COCO annotation ids
  (``[-1]`` when the expression names nothing; older dumps may hold a bare int); ``no_target`` is ``true``
  exactly then. Splits are the UNC ones: train, val, testA, testB.
* ``instances.json`` (``--instances``, repeatable) — the COCO annotations the refs point into: image sizes, boxes
  (``bbox`` ``[x, y, w, h]``) and masks (``segmentation``).

Every sentence of a ref becomes one ``grec`` record and, unless ``masks=False``, one ``gres`` record. Targets are
in canonical reading order (top to bottom, then left to right, by box corner); a no-target expression has empty
``boxes`` / ``masks`` and its answer is ``<none>``. An expression naming a crowd annotation (a COCO ignore region,
not one object) is skipped and counted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..record import Targets
from .base import (
    Conversion,
    Converter,
    RecordBuilder,
    get_field,
    load_json,
    register_converter,
    require_dir,
    require_file,
)
from .coco import CocoFile, ann_box, ann_mask_rle

SPLITS = ("train", "val", "testA", "testB")  # gRefCOCO uses the UNC partition only
NO_OBJECT = -1


def ref_ann_ids(ref: dict[str, Any], where: str) -> list[int]:
    """The ref's target annotation ids (``[]`` for a no-target ref), checked against its ``no_target`` flag."""
    raw = ref.get("ann_id")
    if isinstance(raw, int) and not isinstance(raw, bool):
        ids = [raw]
    elif isinstance(raw, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in raw):
        ids = list(raw)
    else:
        raise ValueError(
            f"{where}: field 'ann_id' must be a list of COCO annotation ids ([-1] for none), got {raw!r:.60}"
        )
    if NO_OBJECT in ids and ids != [NO_OBJECT]:
        raise ValueError(f"{where}: 'ann_id' {ids} mixes -1 (no object) with annotation ids; expected [-1] alone")
    ids = [] if ids == [NO_OBJECT] else ids
    flag = ref.get("no_target")
    if flag is not None:
        if not isinstance(flag, bool):
            raise ValueError(f"{where}: field 'no_target' must be true or false, got {flag!r:.40}")
        if flag != (not ids):
            raise ValueError(
                f"{where}: no_target is {str(flag).lower()} but ann_id is {ids or [NO_OBJECT]}; "
                "expected ann_id [-1] exactly when no_target is true"
            )
    return ids


def convert_grefcoco(
    annotations: str | Path,
    instances: list[str | Path] | None = None,
    images: str | Path | None = None,
    masks: bool = True,
    dataset: str | None = None,
    split: str | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> Conversion:
    """``grec`` (and ``gres``) records from gRefCOCO's ``grefs(unc).json`` and its ``instances.json``.

    ``split`` overrides the refs' split names (all records go to it); ``limit`` keeps the first N expressions.
    """
    from ...geometry import Mask

    src = require_file(annotations, "gRefCOCO refs file (grefs(unc).json)")
    if not instances:
        raise ValueError("grefcoco needs --instances instances.json (the COCO annotations the refs point into)")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive number of expressions, got {limit}")
    images_dir = require_dir(images, "--images")
    cocos = [CocoFile(p, images_dir) for p in instances]
    anns = {k: v for coco in cocos for k, v in coco.annotation_by_id().items()}
    coco_images = {k: v for coco in cocos for k, v in coco.images.items()}
    refs = load_json(src, "gRefCOCO refs file")
    if not isinstance(refs, list):
        raise ValueError(f"{src}: expected a JSON list of refs (grefs(unc).json), got {type(refs).__name__}")
    dataset = dataset or "grefcoco"
    conv = Conversion(source=f"{dataset} {src.name}")
    builder = RecordBuilder(seed)
    n_expr = n_no_target = 0
    for i, ref in enumerate(refs):
        if limit is not None and n_expr >= limit:
            break
        where = f"{src}: ref {i}"
        image_id = get_field(ref, "image_id", int, where)
        ref_split = get_field(ref, "split", str, where)
        if ref_split not in SPLITS:
            raise ValueError(f"{where}: split {ref_split!r} is not a gRefCOCO split; expected one of {list(SPLITS)}")
        sentences = get_field(ref, "sentences", list, where)
        ann_ids = ref_ann_ids(ref, where)
        im = coco_images.get(image_id)
        if im is None:
            raise ValueError(f"{where}: image_id {image_id} is not in the --instances images")
        targets = []  # (xyxy box, annotation) of each named object
        bad = None
        for aid in ann_ids:
            if aid not in anns:
                raise ValueError(f"{where}: ann_id {aid} is not in the --instances annotations")
            idx, ann = anns[aid]
            if ann.get("image_id") != image_id:
                raise ValueError(
                    f"{where}: ann_id {aid} lies on image {ann.get('image_id')}, not on the ref's image {image_id}"
                )
            if ann.get("iscrowd", 0):
                bad = "expression naming a crowd annotation (a COCO ignore region)"
                break
            box = ann_box(ann, im.size, f"{where} ann_id {aid}")
            if box is None:
                bad = "expression whose target box lies outside its image"
                break
            targets.append((box, ann))
        targets.sort(key=lambda t: (t[0][1], t[0][0]))
        rel = f"images/{im.file_name}"
        for j, s in enumerate(sentences):
            if limit is not None and n_expr >= limit:
                break
            n_expr += 1
            n_no_target += not ann_ids
            sent = " ".join(get_field(s, "sent", str, f"{where} sentences[{j}]").split())
            if not sent:
                conv.skip("empty expression")
                continue
            if bad is not None:
                conv.skip(bad)
                continue
            out_split = split or ref_split
            conv.image_sources[rel] = im.path
            rid = f"{dataset}-{out_split}-{ref.get('ref_id', i)}-{s.get('sent_id', j)}"
            meta = {"source": dataset, "coco_image_id": image_id, "ref_id": ref.get("ref_id"),
                    "sent_id": s.get("sent_id"), "ann_ids": [a.get("id") for _, a in targets],
                    "no_target": not targets, "raw": s.get("raw", sent)}  # fmt: skip
            meta = {k: v for k, v in meta.items() if v is not None}
            boxes = [b for b, _ in targets]
            t = Targets(boxes=boxes, labels=[sent] * len(boxes))
            conv.add(out_split, builder.build("grec", rid, [rel], [im.size], t, slots={"phrase": sent}, meta=meta))
            if not masks:
                continue
            rles = [ann_mask_rle(a, im.size, f"{where} ann_id {a.get('id')}") for _, a in targets]
            if any(Mask.from_rle(r).is_empty() for r in rles):
                conv.skip("gres: a target's mask is empty")
                continue
            t = Targets(boxes=boxes, masks=rles, labels=[sent] * len(boxes))
            rec = builder.build("gres", f"{rid}-mask", [rel], [im.size], t, slots={"phrase": sent}, meta=meta)
            conv.add(out_split, rec)
    conv.counts = {"refs": len(refs), "expressions": n_expr, "no_target_expressions": n_no_target}
    return conv


register_converter(Converter(
    "grefcoco", "gRefCOCO grefs(unc).json + --instances instances.json → grec and gres records (0, 1 or more targets)",
    lambda a: convert_grefcoco(a.annotations, a.instances, a.images, not a.no_masks, a.dataset, a.split, a.limit,
                               a.seed),
))  # fmt: skip

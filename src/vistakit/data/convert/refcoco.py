"""RefCOCO / RefCOCO+ / RefCOCOg referring expressions → ``rec`` records (box) and ``res`` records (mask).

Three source layouts (``--layout``):

* ``refer`` — the refer toolkit's ``refs(unc).p`` / ``refs(umd).p`` / ``refs(google).p`` (a pickle of ref dicts
  ``{ref_id, ann_id, image_id, split, sentences: [{sent, tokens, raw, sent_id}], category_id, file_name}``) with
  ``--instances instances.json`` (the COCO annotations the refs point into: image sizes, boxes, masks).
  UNC splits are train/val/testA/testB, UMD train/val/test, Google train/val; a ref whose split does not belong
  to its partition is an error.
* ``resc`` — the ReSC/TransVG split files (``unc_testB.pth``: a legacy ``torch.save`` of
  ``(file_name, '<ann_id>.pth', [x, y, w, h], sentence, parse)`` tuples), read by the restricted unpickler in
  :mod:`.safe_pickle` (no torch, no code execution). These files carry no image sizes: they come from
  ``--instances`` COCO files (repeatable) or from image headers under ``--images``; expressions whose image
  size is unknown are skipped and counted. ``res`` records need ``--instances`` holding the annotation.
* ``joined`` — a JSON Lines file with one expression per line joined with its COCO annotation
  (``split, sent, ann_id, image_id, bbox_xywh, segmentation, height, width, category_id[, image_path]``).

Every box is xyxy in original pixels (from COCO ``[x, y, w, h]``); every mask a COCO RLE of the original image.
The expression is the record's phrase (``targets.labels[0]``), so the answer reads ``<p>expr</p><box>…``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Iterator

from ..jsonl import iter_jsonl
from ..record import Targets
from .base import (
    Conversion,
    Converter,
    RecordBuilder,
    find_image,
    get_field,
    image_size_from_file,
    register_converter,
    require_dir,
    require_file,
    xywh_to_xyxy,
)
from .coco import CocoFile, ann_mask_rle
from .safe_pickle import load_plain_pickle

PARTITION_SPLITS = {
    "unc": {"train", "val", "testA", "testB"},
    "umd": {"train", "val", "test"},
    "google": {"train", "val", "test"},
}
LAYOUTS = ("refer", "resc", "joined")
# ReSC/TransVG split-file prefixes → data set names.
RESC_DATASETS = {"unc": "refcoco", "unc+": "refcoco+", "gref": "refcocog", "gref_umd": "refcocog", "referit": "referit"}
_COCO_ID = re.compile(r"(\d{6,})\.(?:jpg|jpeg|png)$", re.IGNORECASE)


@dataclass
class Expression:
    """One referring expression, normalised across layouts. ``box_xywh`` and ``segmentation`` are COCO-style,
    in pixels of the original image; ``size`` is (W, H) or ``None`` when unknown."""

    split: str
    sent: str
    image_id: int
    file_name: str
    box_xywh: list[float]
    size: tuple[int, int] | None
    segmentation: Any = None
    image_path: Path | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def coco_image_id(file_name: str) -> int | None:
    """``COCO_train2014_000000000154.jpg`` / ``000000000154.jpg`` → 154."""
    m = _COCO_ID.search(file_name)
    return int(m.group(1)) if m else None


# --- layout readers -------------------------------------------------------------------------------------
def read_refer(refs_path: Path, instances: list[CocoFile], split_by: str | None) -> Iterator[Expression]:
    """Expressions of a refer-toolkit ``refs(*).p`` with its ``instances.json``."""
    if not instances:
        raise ValueError("--layout refer needs --instances instances.json (the COCO annotations the refs point into)")
    if split_by is None:
        m = re.search(r"refs\((\w+)\)", refs_path.name)
        split_by = m.group(1) if m else None
    allowed = PARTITION_SPLITS.get(split_by or "")
    anns = {k: v for coco in instances for k, v in coco.annotation_by_id().items()}
    images = {k: v for coco in instances for k, v in coco.images.items()}
    refs = load_plain_pickle(refs_path)
    if not isinstance(refs, list):
        raise ValueError(f"{refs_path}: expected a list of ref dicts, got {type(refs).__name__}")
    for i, ref in enumerate(refs):
        where = f"{refs_path}: ref {i}"
        ann_id = get_field(ref, "ann_id", int, where)
        image_id = get_field(ref, "image_id", int, where)
        split = get_field(ref, "split", str, where)
        if allowed is not None and split not in allowed:
            raise ValueError(f"{where}: split {split!r} is not a {split_by} split; expected one of {sorted(allowed)}")
        if ann_id not in anns:
            raise ValueError(f"{where}: ann_id {ann_id} is not in the --instances annotations")
        if image_id not in images:
            raise ValueError(f"{where}: image_id {image_id} is not in the --instances images")
        _, ann = anns[ann_id]
        im = images[image_id]
        for j, s in enumerate(get_field(ref, "sentences", list, where)):
            sent = " ".join(get_field(s, "sent", str, f"{where} sentences[{j}]").split())
            meta = {"ref_id": ref.get("ref_id"), "sent_id": s.get("sent_id"), "ann_id": ann_id, "raw": s.get("raw", sent),
                    "category_id": ref.get("category_id"), "split_by": split_by}  # fmt: skip
            yield Expression(split, sent, image_id, im.file_name, list(ann["bbox"]), im.size,
                             ann.get("segmentation"), im.path, meta)  # fmt: skip


def read_resc(split_path: Path, instances: list[CocoFile], images_dir: Path | None) -> Iterator[Expression]:
    """Expressions of a ReSC/TransVG ``<dataset>_<split>.pth`` split file."""
    data = load_plain_pickle(split_path)
    if not isinstance(data, list):
        raise ValueError(
            f"{split_path}: expected a list of (file_name, ann, [x, y, w, h], sentence, ...) tuples, got {type(data).__name__}"
        )
    split = split_path.stem.rsplit("_", 1)[-1]
    anns = {k: v for coco in instances for k, v in coco.annotation_by_id().items()}
    images = {k: v for coco in instances for k, v in coco.images.items()}
    sizes_from_files: dict[int, tuple[int, int]] = {}
    for i, item in enumerate(data):
        where = f"{split_path}: item {i}"
        if not isinstance(item, (tuple, list)) or len(item) < 4:
            raise ValueError(
                f"{where}: expected a (file_name, '<ann_id>.pth', [x, y, w, h], sentence, ...) tuple, got {item!r:.80}"
            )
        file_name, ann_file, box, sent = item[:4]
        if not isinstance(file_name, str) or not isinstance(sent, str):
            raise ValueError(f"{where}: file_name and sentence must be strings, got {file_name!r:.40}, {sent!r:.40}")
        if not (isinstance(box, (list, tuple)) and len(box) == 4 and all(isinstance(v, (int, float)) for v in box)):
            raise ValueError(f"{where}: box must be [x, y, w, h] numbers, got {box!r:.60}")
        m = re.fullmatch(r"(\d+)\.pth", str(ann_file))
        ann_id = int(m.group(1)) if m else None
        image_id = coco_image_id(file_name)
        if image_id is None:
            raise ValueError(f"{where}: cannot read a COCO image id from file name {file_name!r}")
        im = images.get(image_id)
        path = find_image(images_dir, file_name) or find_image(images_dir, f"{image_id:012d}.jpg")
        size = im.size if im is not None else None
        if size is None and path is not None:
            size = sizes_from_files.setdefault(image_id, image_size_from_file(path))
        seg = anns[ann_id][1].get("segmentation") if ann_id in anns else None
        meta = {"ann_id": ann_id, "parse": item[4] if len(item) > 4 else None}
        yield Expression(split, " ".join(sent.split()), image_id, file_name, list(box), size, seg, path, meta)


def read_joined(path: Path, images_dir: Path | None) -> Iterator[Expression]:
    """Expressions of a joined JSON Lines file (one expression with its COCO annotation per line)."""
    for where, obj in iter_jsonl(path, "joined RefCOCO file"):
        image_id = get_field(obj, "image_id", int, where)
        size = (get_field(obj, "width", int, where), get_field(obj, "height", int, where))
        rel = obj.get("image_path")
        src = None
        if isinstance(rel, str):
            for base in (path.parent, path.parent.parent):
                if (base / rel).is_file():
                    src = base / rel
                    break
            src = src or find_image(images_dir, rel)
        file_name = Path(rel).name if isinstance(rel, str) else f"{image_id:012d}.jpg"
        meta = {"ann_id": obj.get("ann_id"), "category_id": obj.get("category_id")}
        yield Expression(get_field(obj, "split", str, where), " ".join(get_field(obj, "sent", str, where).split()),
                         image_id, file_name, list(get_field(obj, "bbox_xywh", list, where)), size,
                         obj.get("segmentation"), src, meta)  # fmt: skip


# --- records --------------------------------------------------------------------------------------------

def convert_refcoco(
    annotations: str | Path,
    layout: str = "refer",
    instances: list[str | Path] | None = None,
    images: str | Path | None = None,
    split_by: str | None = None,
    dataset: str | None = None,
    masks: bool = True,
    split: str | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> Conversion:
    """rec records (and res records where a mask is known) from one RefCOCO-family source.

    ``split`` overrides the split names found in the source (all records go to it).
    """
    from ...geometry import Mask

    if layout not in LAYOUTS:
        raise ValueError(f"refcoco layout must be one of {list(LAYOUTS)}, got {layout!r}")
    src = require_file(annotations, f"refcoco {layout} annotation file")
    images_dir = require_dir(images, "--images")
    cocos = [CocoFile(p, images_dir) for p in instances or []]
    if layout == "refer":
        exprs = read_refer(src, cocos, split_by)
    elif layout == "resc":
        exprs = read_resc(src, cocos, images_dir)
    else:
        exprs = read_joined(src, images_dir)
    if dataset is None and layout == "resc":
        dataset = RESC_DATASETS.get(src.stem.rsplit("_", 1)[0])
    dataset = dataset or (src.parent.name if src.parent.name.startswith("ref") else "refcoco")
    conv = Conversion(source=f"{dataset} ({layout} layout) {src.name}")
    builder = RecordBuilder(seed)
    n = 0
    for k, e in enumerate(exprs):
        if limit is not None and k >= limit:
            break
        n += 1
        if not e.sent:
            conv.skip("empty expression")
            continue
        if e.size is None:
            conv.skip("image size unknown (give --instances or --images)")
            continue
        if len(e.box_xywh) != 4 or not all(isinstance(v, (int, float)) for v in e.box_xywh):
            raise ValueError(f"{src}: expression {k}: box must be [x, y, w, h] numbers, got {e.box_xywh!r:.60}")
        box = xywh_to_xyxy(e.box_xywh, e.size)
        if box is None:
            conv.skip("box outside its image")
            continue
        out_split = split or e.split
        rel = f"images/{e.file_name}"
        conv.image_sources[rel] = e.image_path
        rid = f"{dataset}-{out_split}-{k:06d}"
        meta = {"source": dataset, "coco_image_id": e.image_id, **{m: v for m, v in e.meta.items() if v is not None}}
        conv.add(out_split, builder.build("rec", rid, [rel], [e.size], Targets(boxes=[box], labels=[e.sent]),
                                          slots={"phrase": e.sent}, meta=meta))  # fmt: skip
        if not masks:
            continue
        if e.segmentation is None:
            conv.skip("res: no mask for the expression's object")
            continue
        rle = ann_mask_rle({"segmentation": e.segmentation}, e.size, f"{src}: expression {k}")
        if Mask.from_rle(rle).is_empty():
            conv.skip("res: empty mask")
            continue
        t = Targets(boxes=[box], masks=[rle], labels=[e.sent])
        conv.add(
            out_split, builder.build("res", f"{rid}-mask", [rel], [e.size], t, slots={"phrase": e.sent}, meta=meta)
        )
    conv.counts = {"expressions": n}
    return conv


def _arguments(group: Any) -> None:
    group.add_argument(
        "--layout",
        choices=LAYOUTS,
        default="refer",
        help="refcoco: refer (refs(*).p + --instances), resc (ReSC/TransVG *.pth) or joined (jsonl)",
    )
    group.add_argument(
        "--instances",
        action="append",
        metavar="JSON",
        help="refcoco, grefcoco: COCO instances file(s) for boxes, masks and image sizes (repeatable)",
    )
    group.add_argument(
        "--split-by",
        choices=sorted(PARTITION_SPLITS),
        help="refcoco refer layout: the partition (default: from the file name refs(unc).p)",
    )
    group.add_argument("--dataset", help="refcoco, grefcoco: data set name for ids and meta (default: the folder name / grefcoco)")
    group.add_argument("--no-masks", action="store_true", help="refcoco, grefcoco: write rec / grec records only")  # fmt: skip


register_converter(Converter(
    "refcoco", "RefCOCO/+/g (refer refs(*).p, ReSC .pth split files or joined jsonl) → rec and res records",
    lambda a: convert_refcoco(a.annotations, a.layout, a.instances, a.images, a.split_by, a.dataset,
                              not a.no_masks, a.split, a.limit, a.seed),
    _arguments,
))  # fmt: skip

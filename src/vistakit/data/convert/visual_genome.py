"""Visual Genome region descriptions → ``reg`` records (a box visual prompt → its description).

Sources: ``region_descriptions.json`` (a list of ``{"id": image_id, "regions": [{"region_id", "image_id",
"phrase", "x", "y", "width", "height"}]}``) and ``image_data.json`` (``{"image_id", "width", "height",
"url"}`` per image) — each either as the plain JSON file or inside a download ``.zip``, where it is found by name
at any depth. Image sizes come from ``image_data.json`` (the shipped sample's JPEGs are 5×5 placeholders, so
the headers must not be trusted). Region boxes are ``[x, y, width, height]`` in original pixels; records hold
them xyxy, clipped to the image; regions with nothing left after clipping, or an empty phrase, are skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..record import Targets, VisualPrompt
from .base import (
    Conversion,
    Converter,
    RecordBuilder,
    find_image,
    get_field,
    load_json_member,
    register_converter,
    require_dir,
    require_file,
    xywh_to_xyxy,
)


def _image_table(image_data: Any, where: str) -> dict[int, tuple[tuple[int, int], str]]:
    """image_id → ((W, H), relative image path like ``VG_100K_2/1.jpg``)."""
    if not isinstance(image_data, list):
        raise ValueError(f"{where}: expected a list of image entries, got {type(image_data).__name__}")
    out = {}
    for i, im in enumerate(image_data):
        w = f"{where}: image {i}"
        iid = get_field(im, "image_id", int, w) if "image_id" in im else get_field(im, "id", int, w)
        size = (get_field(im, "width", int, w), get_field(im, "height", int, w))
        url = im.get("url") if isinstance(im.get("url"), str) else f"{iid}.jpg"
        rel = "/".join(url.rstrip("/").split("/")[-2:]) if "/" in url else url
        out[iid] = (size, rel)
    return out


def convert_visual_genome(
    annotations: str | Path,
    image_data: str | Path | None = None,
    images: str | Path | None = None,
    split: str | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> Conversion:
    """One reg record per region description. ``image_data`` defaults to ``annotations`` when that is a zip,
    else to ``image_data.json`` beside it."""
    ann_path = require_file(annotations, "Visual Genome region descriptions (json or zip)")
    if image_data is None:
        image_data = ann_path if ann_path.suffix == ".zip" else ann_path.with_name("image_data.json")
    img_path = require_file(image_data, "Visual Genome image_data (json or zip; --image-data)")
    images_dir = require_dir(images, "--images")
    table = _image_table(load_json_member(img_path, "image_data.json", "image_data"), str(img_path))
    data = load_json_member(ann_path, "region_descriptions.json", "region descriptions")
    if not isinstance(data, list):
        raise ValueError(f"{ann_path}: expected a list of {{'id', 'regions'}} entries, got {type(data).__name__}")
    split = split or "train"
    conv = Conversion(source=f"Visual Genome region descriptions {ann_path.name}")
    builder = RecordBuilder(seed)
    n_regions = 0
    for i, entry in enumerate(data):
        where = f"{ann_path}: entry {i}"
        for j, reg in enumerate(get_field(entry, "regions", list, where)):
            if limit is not None and n_regions >= limit:
                break
            n_regions += 1
            w = f"{where} regions[{j}]"
            iid = get_field(reg, "image_id", int, w)
            if iid not in table:
                raise ValueError(f"{w}: image_id {iid} is not in {img_path.name}")
            size, rel_src = table[iid]
            phrase = " ".join(get_field(reg, "phrase", str, w).split())
            xywh = [get_field(reg, k, (int, float), w) for k in ("x", "y", "width", "height")]
            box = xywh_to_xyxy(xywh, size)
            if not phrase:
                conv.skip("empty phrase")
                continue
            if box is None:
                conv.skip("region box outside its image")
                continue
            rel = f"images/{rel_src}"
            conv.image_sources[rel] = find_image(images_dir, rel_src)
            rid = f"vg-{split}-{reg.get('region_id', f'{iid}-{j}')}"
            vp = VisualPrompt("box", 0, box=box)
            targets = Targets(answers=[phrase], boxes=[box], labels=[phrase])
            meta = {"source": "visual_genome", "vg_image_id": iid, "region_id": reg.get("region_id")}
            conv.add(split, builder.build("reg", rid, [rel], [size], targets, visual_prompts=[vp], meta=meta))
    conv.counts = {"images": len(data), "regions": n_regions}
    return conv


def _arguments(group: Any) -> None:
    group.add_argument("--image-data", metavar="JSON_OR_ZIP",
                       help="visual-genome: image_data.json (default: the annotations zip, or image_data.json beside it)")  # fmt: skip


register_converter(Converter(
    "visual-genome", "Visual Genome region_descriptions.json (or its zip) → reg records",
    lambda a: convert_visual_genome(a.annotations, a.image_data, a.images, a.split, a.limit, a.seed),
    _arguments,
))  # fmt: skip

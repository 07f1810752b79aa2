"""Draw records of the unified format with their targets, in a grid (for eyeballing a data set).

Each cell shows the record's images side by side (scaled to fit, nearest neighbour), overlays its targets (masks
tinted, boxes, points, traces, keypoints, visual prompts; picked images framed) scaled from original pixels, and
the task, prompt and answer text (location tokens abbreviated) below.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from ..geometry import Mask
from .overlay import Overlay, draw_overlay
from .record import Record

CELL_W, IMG_H, TEXT_H = 288, 192, 96
_LOCS = re.compile(r"(<loc_\d+>)+")
ImageSource = str | Path | Image.Image | np.ndarray


def _short(text: str) -> str:
    """Answer text with each run of location tokens replaced by '<loc xN>'."""
    return _LOCS.sub(lambda m: f"<loc x{m.group(0).count('<loc_')}>", text)


def _load(source: ImageSource, size: tuple[int, int]) -> Image.Image:
    if isinstance(source, Image.Image):
        return source.convert("RGB")
    if isinstance(source, np.ndarray):
        return Image.fromarray(source).convert("RGB")
    try:  # upright by the EXIF orientation, as the model reads files (vistakit.model.processor.to_rgb_array)
        with Image.open(source) as im:
            return ImageOps.exif_transpose(im).convert("RGB")
    except (FileNotFoundError, OSError):
        return Image.new("RGB", size, (40, 40, 40))  # missing image: grey placeholder, the text still shows


def record_overlays(rec: Record) -> list[Overlay]:
    """The record's targets split by image: instances (masks, boxes) on the image their ``image_ids`` name (image
    0 without them), points, traces and keypoints on image 0, each visual prompt on its image, and the images
    named by ``image_ids`` framed."""
    t = rec.targets
    overlays = [Overlay() for _ in rec.image_sizes]
    if not overlays:
        return overlays
    inst_img = t.image_ids if t.image_ids is not None and t.num_instances() else None

    def on(n: int) -> Overlay | None:
        k = inst_img[n] if inst_img and n < len(inst_img) else 0
        return overlays[k] if 0 <= k < len(overlays) else None

    for n, rle in enumerate(t.masks or []):
        if (o := on(n)) is not None:
            o.masks.append((n, Mask.from_rle(rle).array))
    for n, b in enumerate(t.boxes or []):
        if (o := on(n)) is not None:
            o.boxes.append((n, b, ""))
    first = overlays[0]
    first.points = [(n, p) for n, p in enumerate(t.points or [])]
    first.traces = [(n, tr["xy"]) for n, tr in enumerate(t.traces or [])]
    first.keypoints = [(kp["xy"], kp["visibility"]) for kp in t.keypoints or []]
    for vp in rec.visual_prompts:
        if 0 <= vp.image < len(overlays):
            overlays[vp.image].regions.append(vp)
    for k in t.image_ids or []:
        if 0 <= k < len(overlays):
            overlays[k].picked = True
    return overlays


def draw_cell(
    images: Sequence[ImageSource],
    image_sizes: Sequence[tuple[int, int]],
    overlays: Sequence[Overlay],
    task: str,
    prompt: str,
    answer: str,
) -> Image.Image:
    """One CELL_W × (IMG_H + TEXT_H) RGB cell: the images (files, PIL images or H×W×3 uint8 arrays, of the given
    (W, H) sizes) side by side, scaled down with their ``overlays`` (original pixels) drawn on, and the task,
    prompt and answer text below."""
    cell = Image.new("RGB", (CELL_W, IMG_H + TEXT_H), (20, 20, 20))
    side = min(IMG_H, CELL_W // max(1, len(images)))
    for j, (source, (w, h), overlay) in enumerate(zip(images, image_sizes, overlays)):
        s = side / max(w, h)
        thumb = _load(source, (w, h)).resize((max(1, round(w * s)), max(1, round(h * s))), Image.NEAREST)
        cell.paste(draw_overlay(thumb, overlay, s, captions=False), (j * side, 0))
    prompt = re.sub(r"(Image \d+: )?<image>\n?", "", prompt).strip()
    text = f"[{task}] {prompt}\n=> {_short(answer)}"
    lines = [ln for para in text.splitlines() for ln in (textwrap.wrap(para, 46) or [""])]
    ImageDraw.Draw(cell).multiline_text((4, IMG_H + 2), "\n".join(lines[:8]), fill=(230, 230, 230), spacing=1)
    return cell


def draw_record(rec: Record) -> Image.Image:
    """One cell (see :func:`draw_cell`) for ``rec``, its images read from its files."""
    return draw_cell(rec.image_paths(), rec.image_sizes, record_overlays(rec), rec.task, rec.prompt, rec.answer)


def grid(records: Sequence[Record], columns: int = 4) -> Image.Image:
    """The records' cells in a grid of ``columns`` columns."""
    if not records:
        raise ValueError("no records to draw")
    rows = -(-len(records) // columns)
    out = Image.new("RGB", (columns * CELL_W, rows * (IMG_H + TEXT_H)), (0, 0, 0))
    for i, rec in enumerate(records):
        out.paste(draw_record(rec), ((i % columns) * CELL_W, (i // columns) * (IMG_H + TEXT_H)))
    return out

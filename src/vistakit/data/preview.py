"""Draw records of the unified format with their targets, in a grid (for eyeballing a data set).

Each cell shows the record's images side by side (scaled up, nearest neighbour), overlays its targets (masks
tinted, boxes, points, traces, keypoints, visual prompts; picked images framed) scaled from original pixels, and
the task, prompt and answer text (location tokens abbreviated) below.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from ..geometry import Mask
from .record import Record

PALETTE = ((255, 60, 60), (60, 220, 60), (60, 140, 255), (255, 200, 0), (255, 0, 255), (0, 230, 230))
CELL_W, IMG_H, TEXT_H = 288, 192, 96
_LOCS = re.compile(r"(<loc_\d+>)+")


def _short(text: str) -> str:
    """Answer text with each run of location tokens replaced by '<loc xN>'."""
    return _LOCS.sub(lambda m: f"<loc x{m.group(0).count('<loc_')}>", text)


def _load(path: Path, size: tuple[int, int]) -> Image.Image:
    try:
        return Image.open(path).convert("RGB")
    except (FileNotFoundError, OSError):
        return Image.new("RGB", size, (40, 40, 40))  # missing image: grey placeholder, the text still shows


def draw_record(rec: Record) -> Image.Image:
    """One CELL_W × (IMG_H + TEXT_H) RGB cell for ``rec``."""
    cell = Image.new("RGB", (CELL_W, IMG_H + TEXT_H), (20, 20, 20))
    paths = rec.image_paths()
    k = max(1, len(paths))
    side = min(IMG_H, CELL_W // k)
    t = rec.targets
    inst_img = t.image_ids if t.image_ids is not None and t.num_instances() else None
    for j, (path, (w, h)) in enumerate(zip(paths, rec.image_sizes)):
        s = side / max(w, h)
        img = _load(path, (w, h)).resize((max(1, round(w * s)), max(1, round(h * s))), Image.NEAREST)
        arr = np.asarray(img).astype(np.float32)
        for n, rle in enumerate(t.masks or []):
            if (inst_img[n] if inst_img else 0) != j:
                continue
            m = np.asarray(Image.fromarray(Mask.from_rle(rle).array).resize(img.size, Image.NEAREST))
            arr[m] = 0.5 * arr[m] + 0.5 * np.asarray(PALETTE[n % len(PALETTE)], np.float32)
        img = Image.fromarray(arr.astype(np.uint8))
        d = ImageDraw.Draw(img)
        for n, b in enumerate(t.boxes or []):
            if (inst_img[n] if inst_img else 0) == j:
                d.rectangle([b[0] * s, b[1] * s, b[2] * s - 1, b[3] * s - 1], outline=PALETTE[n % len(PALETTE)])
        if j == 0:
            for n, p in enumerate(t.points or []):
                d.ellipse([p[0] * s - 3, p[1] * s - 3, p[0] * s + 3, p[1] * s + 3], fill=PALETTE[n % len(PALETTE)])
            for n, tr in enumerate(t.traces or []):
                d.line([(x * s, y * s) for x, y in tr["xy"]], fill=PALETTE[n % len(PALETTE)], width=1)
            for kp in t.keypoints or []:
                for (x, y), v in zip(kp["xy"], kp["visibility"]):
                    if v:
                        d.ellipse(
                            [x * s - 2, y * s - 2, x * s + 2, y * s + 2], fill=(255, 255, 0) if v == 2 else (255, 0, 0)
                        )
        for vp in rec.visual_prompts:
            if vp.image == j and vp.box:
                d.rectangle([c * s for c in vp.box], outline=(255, 255, 255), width=2)
            if vp.image == j and vp.point:
                x, y = vp.point
                d.line([(x * s - 5, y * s), (x * s + 5, y * s)], fill=(255, 255, 255), width=2)
                d.line([(x * s, y * s - 5), (x * s, y * s + 5)], fill=(255, 255, 255), width=2)
        if t.image_ids and j in t.image_ids:
            d.rectangle([0, 0, img.width - 1, img.height - 1], outline=(0, 255, 0), width=2)
        cell.paste(img, (j * side, 0))
    prompt = re.sub(r"(Image \d+: )?<image>\n?", "", rec.prompt).strip()
    text = f"[{rec.task}] {prompt}\n=> {_short(rec.answer)}"
    lines = [ln for para in text.splitlines() for ln in (textwrap.wrap(para, 46) or [""])]
    ImageDraw.Draw(cell).multiline_text((4, IMG_H + 2), "\n".join(lines[:8]), fill=(230, 230, 230), spacing=1)
    return cell


def grid(records: Sequence[Record], columns: int = 4) -> Image.Image:
    """The records' cells in a grid of ``columns`` columns."""
    if not records:
        raise ValueError("no records to draw")
    rows = -(-len(records) // columns)
    out = Image.new("RGB", (columns * CELL_W, rows * (IMG_H + TEXT_H)), (0, 0, 0))
    for i, rec in enumerate(records):
        out.paste(draw_record(rec), ((i % columns) * CELL_W, (i // columns) * (IMG_H + TEXT_H)))
    return out

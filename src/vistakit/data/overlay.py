"""Draw results on one image: masks outlined with a light fill, boxes (with captions above or below them, never
over the object), points, traces, keypoints, the visual prompts asked about (white) and a frame when the image was
picked.

Everything in an :class:`Overlay` is in pixels of the **original** image; :func:`draw_overlay` scales it by
``scale`` onto the image it draws on (1: the original at full resolution; < 1: a thumbnail, as the record preview
draws). ``min_side`` first enlarges a small image by a whole factor (nearest neighbour, so pixels stay sharp) until
its short side reaches it: a 64-pixel scene has no room for a readable label. Line widths grow with the drawn image,
so overlays stay visible on large photos. Used by :mod:`vistakit.data.preview` (records) and
:mod:`vistakit.evaluation.present` (model answers).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..geometry import Mask
from .record import VisualPrompt

PALETTE = ((255, 60, 60), (60, 220, 60), (60, 140, 255), (255, 200, 0), (255, 0, 255), (0, 230, 230))
REGION_COLOUR = (255, 255, 255)  # the visual prompts the question asked about
PICKED_COLOUR = (0, 255, 0)  # the frame of an image an answer picked
VISIBLE, OCCLUDED = (255, 255, 0), (255, 0, 0)  # keypoint visibility 2 / 1
MASK_FILL = 0.3  # light enough that the object's own colour still reads through (a yellow triangle stays yellow)


def colour(index: int) -> tuple[int, int, int]:
    """The palette colour of instance ``index`` (cycling)."""
    return PALETTE[index % len(PALETTE)]


@dataclass
class Overlay:
    """What to draw on one image, in pixels of that original image.

    ``masks`` (palette index, H×W bool); ``boxes`` (palette index, [x1, y1, x2, y2], caption — "" for none);
    ``points`` (palette index, [x, y]); ``traces`` (palette index, [[x, y], …]); ``keypoints`` ([[x, y], …],
    visibility per point: 0 absent, 1 occluded, 2 visible); ``regions`` the visual prompts on this image;
    ``picked`` frames the whole image. The palette index keeps one instance's colour across its box and mask.
    """

    masks: list[tuple[int, np.ndarray]] = field(default_factory=list)
    boxes: list[tuple[int, Sequence[float], str]] = field(default_factory=list)
    points: list[tuple[int, Sequence[float]]] = field(default_factory=list)
    traces: list[tuple[int, Sequence[Sequence[float]]]] = field(default_factory=list)
    keypoints: list[tuple[Sequence[Sequence[float]], Sequence[int]]] = field(default_factory=list)
    regions: list[VisualPrompt] = field(default_factory=list)
    picked: bool = False


def _tint(arr: np.ndarray, mask: np.ndarray, rgb: Sequence[int], alpha: float, outline: int = 0) -> None:
    """Blend ``rgb`` into ``arr`` (H×W×3 float32) where ``mask`` is set, resizing the mask to ``arr`` if needed;
    ``outline`` > 0 also paints the mask's inner border that many pixels wide in full ``rgb``."""
    h, w = arr.shape[:2]
    m = np.asarray(mask, bool)
    if m.shape != (h, w):
        m = np.asarray(Image.fromarray(m).resize((w, h), Image.NEAREST))
    arr[m] = (1 - alpha) * arr[m] + alpha * np.asarray(rgb, np.float32)
    if outline > 0 and m.any():
        inner = cv2.erode(m.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=outline,
                          borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)  # fmt: skip
        arr[m & ~inner] = np.asarray(rgb, np.float32)


def upscale_factor(size: tuple[int, int], min_side: int) -> int:
    """The whole factor that brings an image of ``size`` (W, H) to a short side of at least ``min_side`` (1 when
    it is there already, or ``min_side`` is 0)."""
    short = max(1, min(size))
    return max(1, math.ceil(min_side / short)) if min_side > 0 else 1


def draw_overlay(image: Image.Image | np.ndarray, overlay: Overlay, scale: float = 1.0,
                 captions: bool = True, min_side: int = 0) -> Image.Image:  # fmt: skip
    """A new RGB image: ``image`` (the original scaled by ``scale``) with ``overlay`` drawn on it. ``captions``
    writes each box's caption above it, or below it when the image's top edge leaves no room (off for thumbnails,
    where text would hide the image). ``min_side`` > 0 enlarges a smaller image first (see the module's doc): the
    result is then :func:`upscale_factor` times larger."""
    base = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image, np.uint8))
    base = base.convert("RGB")
    k = upscale_factor(base.size, min_side)
    if k > 1:
        base = base.resize((base.width * k, base.height * k), Image.NEAREST)
    arr = np.asarray(base).astype(np.float32)
    lw = max(1, round(max(base.size) / 250))  # 1 px on a thumbnail, ~3 px on a 640 px photo
    for n, m in overlay.masks:
        _tint(arr, m, colour(n), MASK_FILL, outline=lw)
    for vp in overlay.regions:
        if vp.mask is not None:
            _tint(arr, Mask.from_rle(vp.mask).array, REGION_COLOUR, 0.35)
    img = Image.fromarray(arr.round().astype(np.uint8))
    d = ImageDraw.Draw(img)
    s = scale * k

    def dot(x: float, y: float, r: float, fill: Sequence[int]) -> None:
        d.ellipse([x * s - r, y * s - r, x * s + r, y * s + r], fill=tuple(fill))

    font = ImageFont.load_default(size=max(10, 5 * lw)) if captions else None
    for n, b, text in overlay.boxes:
        x1, y1, x2, y2 = (float(v) * s for v in b)
        d.rectangle([x1, y1, max(x1, x2 - 1), max(y1, y2 - 1)], outline=colour(n), width=lw)
        if font is not None and text:
            w, h = d.textbbox((0, 0), text, font=font)[2:]
            # above the box; below it when the top edge leaves no room; over it only when neither fits
            y = y1 - h - lw if y1 - h - lw >= 0 else y2 if y2 + h + lw <= img.height else y1
            x1 = max(0.0, min(x1, img.width - w - 2 * lw))  # the whole label on the image
            d.rectangle([x1, y, x1 + w + 2 * lw, y + h + lw], fill=colour(n))
            d.text((x1 + lw, y), text, fill=(0, 0, 0), font=font)
    for n, (x, y) in overlay.points:
        dot(x, y, 3 * lw, colour(n))
    for n, xy in overlay.traces:
        d.line([(x * s, y * s) for x, y in xy], fill=colour(n), width=lw)
    for xy, vis in overlay.keypoints:
        for (x, y), v in zip(xy, vis):
            if v:
                dot(x, y, 2 * lw, VISIBLE if v == 2 else OCCLUDED)
    for vp in overlay.regions:
        if vp.box is not None:
            d.rectangle([c * s for c in vp.box], outline=REGION_COLOUR, width=2 * lw)
        if vp.point is not None:
            x, y = vp.point[0] * s, vp.point[1] * s
            d.line([(x - 5 * lw, y), (x + 5 * lw, y)], fill=REGION_COLOUR, width=2 * lw)
            d.line([(x, y - 5 * lw), (x, y + 5 * lw)], fill=REGION_COLOUR, width=2 * lw)
    if overlay.picked:
        d.rectangle([0, 0, img.width - 1, img.height - 1], outline=PICKED_COLOUR, width=2 * lw)
    return img

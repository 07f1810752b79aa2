"""Scene → RGB image (H×W×3 uint8) and PNG bytes.

No anti-aliasing: every object paints exactly its visible mask (see :attr:`Scene.visible_masks`) in one flat
colour with a slight deterministic shading, so the annotation masks are exact. Backgrounds are drawn by the
functions in :data:`BACKGROUND_PAINTERS`, all seeded from the scene spec (same spec → same pixels).
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from ...registry import Registry
from .scene import COLOURS, Background, Scene

Painter = Callable[[Background, int, int], np.ndarray]
BACKGROUND_PAINTERS: Registry[Painter] = Registry("background")


@BACKGROUND_PAINTERS.register("plain")
def _plain(bg: Background, w: int, h: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(bg.tone, np.uint8), (h, w, 3)).copy()


@BACKGROUND_PAINTERS.register("gradient")
def _gradient(bg: Background, w: int, h: int) -> np.ndarray:
    angle = (bg.seed % 360) * np.pi / 180
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    t = (xs * np.cos(angle) + ys * np.sin(angle)) / max(w, h)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    a, b = np.asarray(bg.tone, np.float32), np.asarray(bg.tone2, np.float32)
    return (a + t[..., None] * (b - a)).round().astype(np.uint8)


@BACKGROUND_PAINTERS.register("noise")
def _noise(bg: Background, w: int, h: int) -> np.ndarray:
    rng = np.random.default_rng(bg.seed)
    noise = rng.integers(-18, 19, (h, w, 1), dtype=np.int16)
    return np.clip(np.asarray(bg.tone, np.int16) + noise, 0, 255).astype(np.uint8)


@BACKGROUND_PAINTERS.register("texture")
def _texture(bg: Background, w: int, h: int) -> np.ndarray:
    """Stripes or a checkerboard (chosen by the seed) in the two tones."""
    period = 4 + bg.seed % 6
    ys, xs = np.mgrid[0:h, 0:w]
    if bg.seed % 2:
        on = ((xs // period + ys // period) % 2).astype(bool)
    else:
        on = (((xs + ys) // period) % 2).astype(bool)
    out = np.empty((h, w, 3), np.uint8)
    out[~on] = bg.tone
    out[on] = bg.tone2
    return out


def render(scene: Scene) -> np.ndarray:
    """H×W×3 uint8 RGB image of ``scene``."""
    img = BACKGROUND_PAINTERS.get(scene.background.kind)(scene.background, scene.width, scene.height)
    for obj, vis in zip(scene.objects, scene.visible_masks):
        img[vis] = COLOURS[obj.colour]
    return img


def png_bytes(image: np.ndarray, compress_level: int = 1) -> bytes:
    """PNG encoding with fixed settings (same pixels → same bytes); ``image`` is H×W×3 RGB uint8."""
    ok, buf = cv2.imencode(".png", image[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, compress_level])
    if not ok:
        raise ValueError(f"could not encode a {image.shape} image as PNG")
    return buf.tobytes()

"""Scene → RGB image (H×W×3 uint8) and PNG bytes.

By default no anti-aliasing: every object paints exactly its visible mask (see :attr:`Scene.visible_masks`) in
one flat colour (its shade), so the annotation masks are exact. A supersampled scene (``Scene.supersample`` k >
1) blends each object's colour by its coverage of each pixel — the same as drawing at k × the size and
downsampling by area — and its masks are the pixels it covers by at least one half. Backgrounds are drawn by the
functions in :data:`BACKGROUND_PAINTERS`, all seeded from the scene spec (same spec → same pixels).
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from ...registry import Registry
from .scene import Background, Scene

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


@BACKGROUND_PAINTERS.register("radial")
def _radial(bg: Background, w: int, h: int) -> np.ndarray:
    """A radial gradient from ``tone`` at a seeded centre to ``tone2`` at the farthest corner."""
    cx, cy = (bg.seed % 997) / 997 * w, (bg.seed // 997 % 991) / 991 * h
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    d = np.hypot(xs + 0.5 - cx, ys + 0.5 - cy)
    t = d / max(float(d.max()), 1e-6)
    a, b = np.asarray(bg.tone, np.float32), np.asarray(bg.tone2, np.float32)
    return (a + t[..., None] * (b - a)).round().astype(np.uint8)


@BACKGROUND_PAINTERS.register("clouds")
def _clouds(bg: Background, w: int, h: int) -> np.ndarray:
    """Smooth blotches between the two tones: a coarse random grid upsampled bicubically."""
    rng = np.random.default_rng(bg.seed)
    cells = 3 + bg.seed % 4
    grid = rng.random((cells, cells)).astype(np.float32)
    t = np.clip(cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC), 0, 1)
    a, b = np.asarray(bg.tone, np.float32), np.asarray(bg.tone2, np.float32)
    return (a + t[..., None] * (b - a)).round().astype(np.uint8)


def render(scene: Scene) -> np.ndarray:
    """H×W×3 uint8 RGB image of ``scene``."""
    img = BACKGROUND_PAINTERS.get(scene.background.kind)(scene.background, scene.width, scene.height)
    if scene.supersample == 1:
        for obj, vis in zip(scene.objects, scene.visible_masks):
            img[vis] = obj.rgb
        return img
    # Visible sub-pixels never overlap, so a pixel is the area mean of its sub-pixels: the background where no
    # object shows, plus each object's colour times the fraction it covers.
    bg_share = np.ones((scene.height, scene.width), np.float32)
    out = np.zeros((scene.height, scene.width, 3), np.float32)
    for obj, cov in zip(scene.objects, scene.coverages):
        out += cov[..., None] * np.asarray(obj.rgb, np.float32)
        bg_share -= cov
    out += np.clip(bg_share, 0, 1)[..., None] * img
    return np.clip(out.round(), 0, 255).astype(np.uint8)


def png_bytes(image: np.ndarray, compress_level: int = 1) -> bytes:
    """PNG encoding with fixed settings (same pixels → same bytes); ``image`` is H×W×3 RGB uint8."""
    ok, buf = cv2.imencode(".png", image[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, compress_level])
    if not ok:
        raise ValueError(f"could not encode a {image.shape} image as PNG")
    return buf.tobytes()

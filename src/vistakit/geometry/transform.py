"""The record of how an original image became the model's canvas (resize keeping aspect, then pad).

``ImageTransform`` maps any typed geometry between the original frame and the model frame, in both
directions. The model frame is a ``canvas × canvas`` square: the image is scaled so its longer side fits,
then placed at ``offset`` (top-left by default) and the rest is padding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import cv2
import numpy as np

from .boxes import Boxes, BoxFormat
from .frames import Frame, Space
from .masks import Mask, SoftMask
from .points import Keypoints, Points, Trace
from .polygons import Polygons

G = TypeVar("G", Boxes, Points, Polygons, Keypoints, Trace)


@dataclass(frozen=True)
class ImageTransform:
    """Original ``(width, height)`` → square ``canvas`` pixels: ``x_model = x_orig * scale + offset``."""

    original_size: tuple[int, int]
    canvas: int
    scale: float
    offset: tuple[float, float] = (0.0, 0.0)

    @classmethod
    def fit(cls, original_size: tuple[int, int], canvas: int, center: bool = False) -> "ImageTransform":
        """Resize so the longer side equals ``canvas``; pad bottom/right (or both sides if ``center``)."""
        w, h = original_size
        if w <= 0 or h <= 0 or canvas <= 0:
            raise ValueError(f"need positive sizes, got original {original_size} and canvas {canvas}")
        scale = canvas / max(w, h)
        off = ((canvas - w * scale) / 2, (canvas - h * scale) / 2) if center else (0.0, 0.0)
        return cls((int(w), int(h)), int(canvas), float(scale), (float(off[0]), float(off[1])))

    @property
    def resized_size(self) -> tuple[int, int]:
        """(width, height) of the resized image content inside the canvas, in whole pixels."""
        w, h = self.original_size
        return max(1, round(w * self.scale)), max(1, round(h * self.scale))

    @property
    def original_space(self) -> Space:
        return Space(Frame.ORIGINAL, self.original_size)

    @property
    def model_space(self) -> Space:
        return Space(Frame.MODEL, (self.canvas, self.canvas))

    # --- raw coordinates --------------------------------------------------------------------------------
    def xy_to_model(self, xy: np.ndarray) -> np.ndarray:
        """N×2 absolute original pixels → absolute model pixels."""
        return np.asarray(xy, np.float64) * self.scale + np.asarray(self.offset)

    def xy_to_original(self, xy: np.ndarray) -> np.ndarray:
        """N×2 absolute model pixels → absolute original pixels."""
        return (np.asarray(xy, np.float64) - np.asarray(self.offset)) / self.scale

    # --- typed geometry ---------------------------------------------------------------------------------
    def to_model(self, g: G, normalized: bool = True) -> G:
        """Map geometry from the original frame into the model frame (normalised by default)."""
        return self._map(g, Frame.ORIGINAL, self.xy_to_model, self.model_space, normalized)

    def to_original(self, g: G, normalized: bool = False, clip: bool = True) -> G:
        """Map geometry from the model frame back to the original frame (pixels by default).

        With ``clip`` coordinates are clipped to the original image (predictions in the padding land on its
        edge rather than outside it).
        """
        out = self._map(g, Frame.MODEL, self.xy_to_original, self.original_space, False, clip=clip)
        return out.to(normalized=True) if normalized else out

    def _map(self, g, frame: Frame, fn, dst: Space, normalized: bool, clip: bool = False):
        if g.space.frame is not frame:
            raise ValueError(f"expected geometry in the {frame.value} frame, got {g.space.describe()}")
        if frame is Frame.ORIGINAL and g.space.size not in (None, self.original_size):
            raise ValueError(f"geometry is for an image of size {g.space.size}, this transform for {self.original_size}")
        if g.space.size is None:  # normalised geometry from a parser: the frame's size is this transform's
            size = self.original_size if frame is Frame.ORIGINAL else (self.canvas, self.canvas)
            g = _with_space(g, Space(frame, size, g.space.normalized))
        src = g.to(normalized=False) if g.space.normalized else g
        hi = np.asarray(dst.size, np.float64)

        def f(xy):
            out = fn(xy)
            return out.clip(0, hi) if clip else out

        if isinstance(src, Boxes):
            xyxy = src.xyxy()
            xyxy = np.concatenate([f(xyxy[:, :2]), f(xyxy[:, 2:])], axis=1)
            out = Boxes(xyxy, dst, BoxFormat.XYXY).to(src.fmt)
        elif isinstance(src, Points):
            out = Points(f(src.xy), dst)
        elif isinstance(src, Polygons):
            out = Polygons(tuple(f(r) for r in src.rings), dst)
        elif isinstance(src, Keypoints):
            xy = f(src.xy)
            xy[src.visibility == 0] = 0.0
            out = Keypoints(xy, src.visibility, src.names, dst)
        elif isinstance(src, Trace):
            out = Trace(f(src.xy), src.t, dst)
        else:
            raise TypeError(f"cannot map {type(g).__name__}; expected Boxes, Points, Polygons, Keypoints or Trace")
        return out.to(normalized=True) if normalized else out

    # --- masks and images -------------------------------------------------------------------------------
    def mask_to_model(self, mask: Mask) -> Mask:
        """Resize (nearest) and pad an original-frame mask onto the canvas."""
        return Mask(self.image_to_model(mask.array.astype(np.uint8), interpolation=cv2.INTER_NEAREST) > 0, Frame.MODEL)

    def mask_to_original(self, mask: Mask) -> Mask:
        """Crop the content area of a model-frame mask and resize it back to the original size (nearest)."""
        if mask.array.shape != (self.canvas, self.canvas):
            raise ValueError(f"model-frame mask must be {self.canvas}x{self.canvas}, got {mask.array.shape}")
        rw, rh = self.resized_size
        ox, oy = round(self.offset[0]), round(self.offset[1])
        crop = mask.array[oy : oy + rh, ox : ox + rw].astype(np.uint8)
        out = cv2.resize(crop, self.original_size, interpolation=cv2.INTER_NEAREST)
        return Mask(out > 0, Frame.ORIGINAL)

    def soft_mask_to_original(self, mask: SoftMask, threshold: float = 0.5) -> Mask:
        """Crop the content area of a model-frame soft mask, resize the probabilities to the original size
        (bilinear: a smooth edge, not the canvas's pixel staircase) and threshold them."""
        if mask.frame is not Frame.MODEL or mask.probs.shape != (self.canvas, self.canvas):
            raise ValueError(f"expected a {self.canvas}x{self.canvas} model-frame soft mask, got {mask.frame.value} "
                             f"{mask.probs.shape}")  # fmt: skip
        rw, rh = self.resized_size
        ox, oy = round(self.offset[0]), round(self.offset[1])
        crop = np.ascontiguousarray(mask.probs[oy : oy + rh, ox : ox + rw])
        out = cv2.resize(crop, self.original_size, interpolation=cv2.INTER_LINEAR)
        return Mask(out > threshold, Frame.ORIGINAL)

    def image_to_model(self, image: np.ndarray, interpolation: int = cv2.INTER_AREA, fill: int = 0) -> np.ndarray:
        """H×W(×C) original image → canvas×canvas(×C) model image (padding filled with ``fill``)."""
        h, w = image.shape[:2]
        if (w, h) != self.original_size:
            raise ValueError(f"image is {w}x{h}, this transform is for {self.original_size[0]}x{self.original_size[1]}")
        rw, rh = self.resized_size
        resized = cv2.resize(image, (rw, rh), interpolation=interpolation)
        out = np.full((self.canvas, self.canvas, *image.shape[2:]), fill, dtype=image.dtype)
        ox, oy = round(self.offset[0]), round(self.offset[1])
        out[oy : oy + rh, ox : ox + rw] = resized.reshape(rh, rw, *image.shape[2:])
        return out


def _with_space(g, space: Space):
    """The same geometry with its space replaced (used to attach a known frame size)."""
    if isinstance(g, Boxes):
        return Boxes(g.data, space, g.fmt)
    if isinstance(g, Points):
        return Points(g.xy, space)
    if isinstance(g, Polygons):
        return Polygons(g.rings, space)
    if isinstance(g, Keypoints):
        return Keypoints(g.xy, g.visibility, g.names, space)
    if isinstance(g, Trace):
        return Trace(g.xy, g.t, space)
    raise TypeError(f"cannot map {type(g).__name__}; expected Boxes, Points, Polygons, Keypoints or Trace")

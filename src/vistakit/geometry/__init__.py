"""Typed geometry: boxes, points, polygons, masks, keypoints, traces, image transforms, the sequence grammar."""

from .boxes import BoxFormat, Boxes, box_iou_xyxy
from .frames import Frame, Space
from .masks import Mask, SoftMask, mask_iou
from .points import Keypoints, Points, Trace
from .polygons import MIN_COMPONENT_AREA, Polygons, mask_contours, mask_to_polygons, rasterize_rings
from .sampling import DEFAULT_POINTS, DEFAULT_SAMPLER, SAMPLERS, get_sampler
from .sequence import MODEL_NORMALIZED, ROUTING_TOKENS, LocationCodec, ParseResult, SequenceGrammar, Span
from .transform import ImageTransform

__all__ = [
    "BoxFormat", "Boxes", "box_iou_xyxy", "Frame", "Space", "Mask", "SoftMask", "mask_iou", "Keypoints", "Points", "Trace",
    "MIN_COMPONENT_AREA", "Polygons", "mask_contours", "mask_to_polygons", "rasterize_rings", "DEFAULT_POINTS",
    "DEFAULT_SAMPLER", "SAMPLERS", "get_sampler", "MODEL_NORMALIZED", "ROUTING_TOKENS", "LocationCodec",
    "ParseResult", "SequenceGrammar", "Span", "ImageTransform",
]  # fmt: skip

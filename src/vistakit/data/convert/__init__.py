"""Real data sets in their public formats → the unified sample format.

One module per source format, each registering a :class:`~.base.Converter` in :data:`CONVERTERS`
(``coco-instances``, ``coco-captions``, ``coco-keypoints``, ``refcoco``, ``visual-genome``,
``localized-narratives``, ``video-localized-narratives``, ``llava``, ``grefcoco``, ``nlvr2``, ``coco-coseg``,
``coco-attcoseg``). Run one with
``vistakit data convert --from FORMAT --out DIR ...``; :func:`write_dataset` writes the dataset folder.
"""

from __future__ import annotations

import importlib

from .base import CONVERTERS, Conversion, Converter, RecordBuilder, get_converter, register_converter
from .output import write_dataset

_MODULES = (
    "coco", "refcoco", "visual_genome", "localized_narratives", "video_narratives", "llava", "grefcoco", "nlvr2",
    "coco_coseg",
)  # fmt: skip


def _load_all() -> None:
    """Import every converter module (each registers itself once)."""
    for name in _MODULES:
        importlib.import_module(f"{__name__}.{name}")


def converter_names() -> list[str]:
    _load_all()
    return CONVERTERS.names()


__all__ = [
    "CONVERTERS", "Conversion", "Converter", "RecordBuilder", "converter_names", "get_converter",
    "register_converter", "write_dataset",
]  # fmt: skip

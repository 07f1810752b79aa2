"""Write a :class:`~.base.Conversion` as a dataset folder: ``<split>.jsonl`` files, ``images/`` and
``dataset.json`` (``{"format": "vistakit", "version": 1, "bins": 1000, "source", "splits", "tasks", ...}``)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from ..record import ANSWER_BINS, FORMAT_VERSION, write_records
from .base import Conversion

IMAGE_MODES = ("symlink", "copy", "none")


def _place_image(src: Path, dst: Path, mode: str) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists() or dst.is_symlink():
        dst.unlink()
    if mode == "symlink":
        os.symlink(src.resolve(), dst)
    else:
        shutil.copy2(src, dst)


def write_dataset(conv: Conversion, out_dir: str | Path, image_mode: str = "symlink") -> dict[str, Any]:
    """Write ``conv`` under ``out_dir`` and return the ``dataset.json`` content.

    ``image_mode``: ``symlink`` (default; absolute links to the source images), ``copy`` or ``none`` (only the
    records). Images whose source is unknown are counted in ``dataset.json`` under ``images_missing``.
    Refuses to write an empty dataset and refuses a split name that is not a plain file name.
    """
    if image_mode not in IMAGE_MODES:
        raise ValueError(f"image mode must be one of {list(IMAGE_MODES)}, got {image_mode!r}")
    n = conv.num_records()
    if n == 0:
        reasons = ", ".join(f"{k}: {v}" for k, v in conv.skipped.most_common()) or "the source holds no items"
        raise ValueError(f"no records converted from {conv.source} ({reasons})")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    splits: dict[str, int] = {}
    for split, records in sorted(conv.splits.items()):
        if not split or "/" in split or "\\" in split or split.startswith("."):
            raise ValueError(f"split name must be a plain file name, got {split!r}")
        splits[split] = write_records(out / f"{split}.jsonl", records)
    missing = 0
    if image_mode != "none":
        for rel, src in sorted(conv.image_sources.items()):
            if src is None:
                missing += 1
                continue
            _place_image(src, out / rel, image_mode)
    else:
        missing = sum(src is None for src in conv.image_sources.values())
    info: dict[str, Any] = {
        "format": "vistakit",
        "version": FORMAT_VERSION,
        "bins": ANSWER_BINS,
        "source": conv.source,
        "splits": splits,
        "tasks": conv.tasks(),
        "source_counts": dict(conv.counts),
        "skipped": dict(conv.skipped),
        "images": len(conv.image_sources),
        "images_missing": missing,
        "image_mode": image_mode,
    }
    (out / "dataset.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return info

"""``edit`` (instruction-based image editing): the answer is ``[GEN]``; the input and edited scene specs live in
``meta`` (``scene``, ``edited_scene``) with the reference result's path (``target_image``).

Beyond ``accuracy`` (routing), predictions that carry the edited image are scored by ``edit_acc`` (the fraction
whose objects are exactly the edited scene's: :func:`vistakit.metrics.geneval.check_edit`) and ``preserve_psnr``
(the mean PSNR in dB, each capped at 100, of the output against the input over the pixels the reference edit leaves
alone). A record without an image scores 0 on ``edit_acc`` and is left out of ``preserve_psnr``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data.images import read_image
from ..data.record import Record
from ..data.shapesworld.check import check_edited
from .base import Prediction, register_task
from .generate import RouteToGenerator, scene_of

EDIT_METRICS = ("edit_acc", "preserve_psnr")


def _rgb(path: Path | str) -> np.ndarray:
    return read_image(path, str(path))


@register_task
class Edit(RouteToGenerator):
    name = "edit"
    metric_names = ("accuracy", *EDIT_METRICS)
    prompt_templates = (
        "Edit the image: {instruction}",
        "{instruction}",
        "Change the picture as follows: {instruction}",
    )

    def score_images(self, golds: list[Record], preds: list[Prediction]) -> dict[str, float]:
        pairs = [(g, p) for g, p in zip(golds, preds) if "edited_scene" in g.meta and "target_image" in g.meta]
        if not pairs or not any(p.images for _, p in pairs):
            return {k: float("nan") for k in EDIT_METRICS}
        right, psnrs = [], []
        for g, p in pairs:
            if not p.images:
                right.append(False)
                continue
            target = (g.root or Path()) / str(g.meta["target_image"])
            ok, db = check_edited(p.images[0], _rgb(g.image_paths()[0]), _rgb(target), scene_of(g, "edited_scene"))
            right.append(ok)
            psnrs.append(db)
        return {"edit_acc": float(np.mean(right)), "preserve_psnr": float(np.nanmean(psnrs)) if psnrs else float("nan")}

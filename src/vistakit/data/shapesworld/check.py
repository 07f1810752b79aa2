"""Check a generated or edited ShapesWorld image against the scene it was asked to show (GenEval-style).

The scene spec a ``generate`` or ``edit`` record keeps in ``meta`` is what was asked; :func:`parse_image` reads what
the image shows; :mod:`vistakit.metrics.geneval` compares the two.
"""

from __future__ import annotations

import cv2
import numpy as np

from ...metrics.geneval import Wanted, check_edit, check_generation, psnr
from .parse_image import parse_image
from .scene import Scene


def wanted_objects(scene: Scene) -> list[Wanted]:
    """The scene's objects as a prompt asks for them: colour, shape, centre and visible area."""
    return [Wanted(o.colour, o.shape, o.center, float(v.sum())) for o, v in zip(scene.objects, scene.visible_masks)]


def _rgb(image: np.ndarray, size: tuple[int, int], what: str) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"the {what} must be an H×W×3 uint8 RGB array, got {image.dtype} {image.shape}")
    if (image.shape[1], image.shape[0]) != size:
        # A generator may draw at another resolution: compare at the scene's.
        image = cv2.resize(image, size, interpolation=cv2.INTER_NEAREST)
    return image


def check_generated(image: np.ndarray, scene: Scene) -> dict[str, bool]:
    """GenEval's checks (``object``, ``count``, ``colour``, ``position``, ``overall``) of ``image`` (H×W×3 uint8;
    resized to the scene's size if it differs) against the scene the prompt described."""
    image = _rgb(image, scene.size, "generated image")
    return check_generation(wanted_objects(scene), parse_image(image), scene.size)


def untouched_region(before: np.ndarray, after: np.ndarray, margin: int = 2) -> np.ndarray:
    """H×W bool: the pixels an edit from ``before`` to ``after`` (the reference pair) leaves alone, ``margin``
    pixels away from any that change."""
    changed = np.any(before != after, axis=-1).astype(np.uint8)
    if margin > 0:
        changed = cv2.dilate(changed, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8))
    return ~changed.astype(bool)


def check_edited(
    output: np.ndarray, before: np.ndarray, target: np.ndarray, edited_scene: Scene
) -> tuple[bool, float]:
    """(edit right, PSNR in dB of the untouched region) for an edit's ``output`` given the input image
    ``before``, the reference result ``target`` and the edited scene spec (all images H×W×3 uint8 RGB)."""
    size = edited_scene.size
    output, before, target = (_rgb(a, size, w) for a, w in ((output, "edited image"), (before, "input image"),
                                                              (target, "target image")))  # fmt: skip
    right = check_edit(wanted_objects(edited_scene), parse_image(output), size)
    return right, psnr(output, before, untouched_region(before, target))

"""Show one prediction: as JSON, as readable lines, and drawn over its images (full resolution, one image each,
or an overview cell as the record preview draws).

Every coordinate here is in **pixels of the original image(s)**: boxes N×[x1, y1, x2, y2], points M×[x, y],
masks COCO RLE (JSON) or H×W bool arrays (drawing), keypoints ``{"names", "xy", "visibility"}`` per figure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..data.overlay import Overlay, draw_overlay
from ..data.preview import draw_cell
from ..data.record import VisualPrompt
from ..geometry import Mask, SequenceGrammar
from ..tasks import Prediction
from ..tasks.base import with_decoded_masks
from ..tasks.common import image_name, spans_to_prediction

LOCATION_KINDS = ("box", "point", "mask", "keypoints")
_KIND_ORDER = {"box": 0, "mask": 1, "keypoints": 2, "point": 3}  # the layout per_kind reads


def parse_any(
    text: str, image_sizes: Sequence[tuple[int, int]], grammar: SequenceGrammar, painted: Sequence[Any] | None = None
) -> Prediction:
    """Answer text → a prediction holding every location span (no task: boxes, masks, keypoints and points
    all kept, one instance per span; ``image_ids`` / ``labels`` hold one entry per span in that kind order, see
    :func:`per_kind`). ``painted``: the super-link decoder's output, one per mask / box span
    (:func:`with_decoded_masks`).
    Never raises."""
    res = grammar.decode(text)
    if painted is not None:
        res = with_decoded_masks(res, painted)
    by_kind = dataclasses.replace(res, spans=sorted(res.spans, key=lambda s: _KIND_ORDER.get(s.kind, 9)))
    try:
        pred = spans_to_prediction(by_kind, image_sizes, LOCATION_KINDS)
    except Exception as exc:  # noqa: BLE001  (parsing model output never raises)
        pred = Prediction(text=res.text, problems=[f"could not read the answer: {type(exc).__name__}: {exc}"])
    pred.image_ids = pred.image_ids or list(res.images)
    pred.problems = list(res.problems) + pred.problems
    return pred


def _mask_array(m: Any) -> np.ndarray:
    return m if isinstance(m, np.ndarray) else Mask.from_rle(m).array


def _keypoints_json(kp: Any) -> dict[str, Any]:
    return {"names": list(kp.names), "xy": np.asarray(kp.xy).round(2).tolist(),
            "visibility": [int(v) for v in kp.visibility]}  # fmt: skip


def prediction_json(pred: Prediction) -> dict[str, Any]:
    """The prediction's typed results as JSON-ready values (original pixels; masks as COCO RLE)."""
    out: dict[str, Any] = {"text": pred.text, "empty": pred.empty}
    if len(pred.boxes):
        out["boxes"] = np.asarray(pred.boxes).round(2).tolist()
    if pred.masks:
        out["masks"] = [Mask(_mask_array(m)).to_rle() for m in pred.masks]
    if len(pred.points):
        out["points"] = np.asarray(pred.points).round(2).tolist()
    if pred.keypoints:
        out["keypoints"] = [_keypoints_json(k) for k in pred.keypoints]
    if pred.scores is not None:
        out["scores"] = [round(float(s), 6) for s in pred.scores]
    if pred.image_ids:
        out["image_ids"] = [int(k) for k in pred.image_ids]
    if pred.labels:
        out["labels"] = list(pred.labels)
    if pred.problems:
        out["problems"] = list(pred.problems)
    return out


def per_kind(pred: Prediction) -> dict[str, list[tuple[int | None, str]]]:
    """``(image, label)`` of every box, mask, keypoint figure and point of ``pred``, by kind.

    Task predictions keep ``image_ids`` / ``labels`` parallel to their instances (boxes and masks of one
    instance share an index); :func:`parse_any` keeps one entry per span in the order boxes, masks, keypoints,
    points. Both layouts are read here; an entry that cannot be matched gets ``(None, "")``.
    """
    counts = {"box": len(pred.boxes), "mask": len(pred.masks), "keypoints": len(pred.keypoints),
              "point": len(pred.points)}  # fmt: skip
    total = sum(counts.values())
    out: dict[str, list[tuple[int | None, str]]] = {}
    offset = 0
    for kind, n in counts.items():
        rows = []
        for i in range(n):
            j = offset + i if len(pred.image_ids) == total or len(pred.labels) == total else i
            image = pred.image_ids[j] if j < len(pred.image_ids) else None
            label = pred.labels[j] if j < len(pred.labels) else ""
            rows.append((image, label))
        out[kind] = rows
        offset += n
    return out


def describe_prediction(pred: Prediction) -> list[str]:
    """Readable lines: one per box, mask, keypoint figure and point (image, label, geometry, score), then the
    picked images of an answer without locations, and what could not be read. Images are named as the prompt
    numbers them, from 1 ("Image 1" is ``image_ids`` 0)."""
    meta = per_kind(pred)
    scores = pred.scores if pred.scores is not None else np.zeros(0)
    lines = []

    def head(kind: str, i: int) -> str:
        image, label = meta[kind][i]
        bits = [image_name(image) if image is not None else "", repr(label) if label else ""]
        return f"  {kind} {i}: " + "".join(f"{b}, " for b in bits if b)

    for i, box in enumerate(pred.boxes):
        score = f", score {scores[i]:.3f}" if len(scores) == len(pred.boxes) else ""
        lines.append(head("box", i) + "[" + ", ".join(f"{v:.1f}" for v in box) + "]" + score)
    for i, m in enumerate(pred.masks):
        score = f", score {scores[i]:.3f}" if len(scores) == len(pred.masks) and not len(pred.boxes) else ""
        lines.append(head("mask", i) + f"{int(_mask_array(m).sum())} px" + score)
    for i, kp in enumerate(pred.keypoints):
        lines.append(head("keypoints", i) + f"{int((np.asarray(kp.visibility) > 0).sum())}/{len(kp.names)} visible")
    for i, (x, y) in enumerate(np.asarray(pred.points).reshape(-1, 2)):
        lines.append(head("point", i) + f"({x:.1f}, {y:.1f})")
    if not any(meta.values()) and pred.image_ids:
        lines.append(f"  picked: {', '.join(image_name(k) for k in pred.image_ids)}")
    if pred.empty:
        lines.append("  (the answer says: no such object)")
    lines.extend(f"  problem: {p}" for p in pred.problems)
    return lines


def prediction_overlays(
    pred: Prediction, image_sizes: Sequence[tuple[int, int]], visual_prompts: Sequence[VisualPrompt] = ()
) -> list[Overlay]:
    """One :class:`~vistakit.data.overlay.Overlay` per image of ``image_sizes`` (original pixels): every box,
    mask, keypoint figure and point on the image it names (image 0 when it names none or one out of range),
    boxes captioned with their label and score, the visual prompts on their images, and the images a
    which-image answer picked (``image_ids`` of an answer without locations) framed."""
    meta = per_kind(pred)
    overlays = [Overlay() for _ in image_sizes]
    if not overlays:
        return overlays

    def on(k: int | None) -> Overlay:
        return overlays[k if k is not None and 0 <= k < len(overlays) else 0]

    box_imgs = [k for k, _ in meta["box"]]
    mask_imgs = [k for k, _ in meta["mask"]]
    # boxes and masks of one instance share a colour; separate box and mask spans each get their own
    mask_offset = 0 if box_imgs == mask_imgs or not mask_imgs else len(box_imgs)
    scores = pred.scores if pred.scores is not None and len(pred.scores) == len(pred.boxes) else None
    for i, (box, (k, label)) in enumerate(zip(np.asarray(pred.boxes).reshape(-1, 4), meta["box"])):
        caption = " ".join(t for t in (label, f"{scores[i]:.2f}" if scores is not None else "") if t)
        on(k).boxes.append((i, box.tolist(), caption))
    for i, (m, (k, _)) in enumerate(zip(pred.masks, meta["mask"])):
        on(k).masks.append((mask_offset + i, _mask_array(m)))
    for kp, (k, _) in zip(pred.keypoints, meta["keypoints"]):
        on(k).keypoints.append((np.asarray(kp.xy).tolist(), [int(v) for v in kp.visibility]))
    for i, (xy, (k, _)) in enumerate(zip(np.asarray(pred.points).reshape(-1, 2), meta["point"])):
        on(k).points.append((i, xy.tolist()))
    for vp in visual_prompts:
        on(vp.image).regions.append(vp)
    if not any(meta.values()):
        for k in pred.image_ids:
            if 0 <= k < len(overlays):
                overlays[k].picked = True
    return overlays


READABLE_SIDE = 384  # smaller images are enlarged (nearest neighbour) to this short side before drawing


def draw_on_images(
    images: Sequence[np.ndarray | Image.Image],
    pred: Prediction,
    visual_prompts: Sequence[VisualPrompt] = (),
    min_side: int = 0,
) -> list[Image.Image]:
    """One RGB image per input image (H×W×3 uint8 arrays or PIL images, the originals): its pixels with its share
    of ``pred`` drawn on (see :func:`prediction_overlays`), at full resolution — enlarged by a whole factor, nearest
    neighbour, when its short side is under ``min_side`` (``READABLE_SIDE``: a 64-pixel scene becomes 384 px, so
    labels fit beside the objects; the default 0 keeps every image at its own size)."""
    pictures = [im if isinstance(im, Image.Image) else Image.fromarray(np.asarray(im, np.uint8)) for im in images]
    overlays = prediction_overlays(pred, [p.size for p in pictures], visual_prompts)
    return [draw_overlay(p, o, min_side=min_side) for p, o in zip(pictures, overlays)]


def draw_prediction(
    images: Sequence[str | Path | np.ndarray | Image.Image],
    image_sizes: Sequence[tuple[int, int]],
    prompt: str,
    answer: str,
    pred: Prediction,
    task: str = "predict",
    visual_prompts: Sequence[VisualPrompt] = (),
) -> Image.Image:
    """An overview: the images (files, PIL images or H×W×3 uint8 arrays) side by side in one record-preview cell
    (:func:`vistakit.data.preview.draw_cell`), ``pred`` drawn on them as :func:`prediction_overlays` places it,
    the prompt and answer below."""
    sizes = [(int(w), int(h)) for w, h in image_sizes]
    return draw_cell(images, sizes, prediction_overlays(pred, sizes, visual_prompts), task, prompt, answer)

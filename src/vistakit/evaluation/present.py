"""Show one prediction: as JSON, as readable lines, and drawn over its images (reusing the record preview).

Every coordinate here is in **pixels of the original image(s)**: boxes N×[x1, y1, x2, y2], points M×[x, y],
masks COCO RLE (JSON) or H×W bool arrays (drawing), keypoints ``{"names", "xy", "visibility"}`` per figure.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from ..data.preview import draw_record
from ..data.record import Record, Targets, VisualPrompt
from ..geometry import Mask, SequenceGrammar
from ..tasks import Prediction
from ..tasks.common import spans_to_prediction

LOCATION_KINDS = ("box", "point", "mask", "keypoints")
_KIND_ORDER = {"box": 0, "mask": 1, "keypoints": 2, "point": 3}  # the layout per_kind reads


def parse_any(text: str, image_sizes: Sequence[tuple[int, int]], grammar: SequenceGrammar) -> Prediction:
    """Answer text → a prediction holding every location span (no task: boxes, masks, keypoints and points
    all kept, one instance per span; ``image_ids`` / ``labels`` hold one entry per span in that kind order, see
    :func:`per_kind`). Never raises."""
    res = grammar.decode(text)
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
    picked images of an answer without locations, and what could not be read."""
    meta = per_kind(pred)
    scores = pred.scores if pred.scores is not None else np.zeros(0)
    lines = []

    def head(kind: str, i: int) -> str:
        image, label = meta[kind][i]
        bits = [f"image {image}" if image is not None else "", repr(label) if label else ""]
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
        lines.append(f"  images: {', '.join(str(k) for k in pred.image_ids)}")
    if pred.empty:
        lines.append("  (the answer says: no such object)")
    lines.extend(f"  problem: {p}" for p in pred.problems)
    return lines


def draw_prediction(
    image_paths: Sequence[str | Path],
    image_sizes: Sequence[tuple[int, int]],
    prompt: str,
    answer: str,
    pred: Prediction,
    task: str = "predict",
    visual_prompts: Sequence[VisualPrompt] = (),
) -> Image.Image:
    """The prediction drawn over its images (masks tinted, boxes, points, keypoints, chosen images framed) with
    the prompt and answer below: :func:`vistakit.data.preview.draw_record` on a record built from it.

    Boxes and masks each go on the image they name. Points and keypoints are drawn on the first image (the
    preview's convention).
    """
    meta = per_kind(pred)
    sizes = [(int(w), int(h)) for w, h in image_sizes]

    def img(k: int | None) -> int:
        return k if k is not None and 0 <= k < len(sizes) else 0

    box_imgs = [img(k) for k, _ in meta["box"]]
    mask_imgs = [img(k) for k, _ in meta["mask"]]
    parallel = box_imgs == mask_imgs or not box_imgs or not mask_imgs
    # One instance index per drawn shape: when boxes and masks are separate spans, masks follow the boxes and
    # empty masks fill the boxes' slots (an empty mask tints nothing).
    masks = [Mask(_mask_array(m)).to_rle() for m in pred.masks]
    if not parallel:
        empty = [Mask(np.zeros((sizes[k][1], sizes[k][0]), bool)).to_rle() for k in box_imgs]
        masks = empty + masks
    ids = (box_imgs or mask_imgs) if parallel else box_imgs + mask_imgs
    picked = [int(k) for k in pred.image_ids] if not any(meta.values()) else []
    targets = Targets(
        boxes=np.asarray(pred.boxes).tolist() or None,
        masks=masks or None,
        points=np.asarray(pred.points).tolist() or None,
        keypoints=[_keypoints_json(k) for k in pred.keypoints] or None,
        # one image: nothing to place or pick, so no frame around it
        image_ids=((ids or picked) or None) if len(sizes) > 1 else None,
    )
    record = Record(
        id="prediction", task=task, images=[str(Path(p).resolve()) for p in image_paths], image_sizes=sizes,
        prompt=prompt, answer=answer, targets=targets, visual_prompts=list(visual_prompts),
    )  # fmt: skip
    return draw_record(record)

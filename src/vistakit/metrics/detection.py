"""Detection AP for boxes, masks and keypoints through pycocotools' COCOeval (the COCO reference evaluation).

Typed inputs (:class:`Instances`, one per image, ORIGINAL-image pixels) are turned into in-memory COCO ground
truth and detection objects (``COCO()`` + ``COCO.loadRes``), then evaluated with ``COCOeval`` unchanged:

* ``ap`` = AP averaged over IoU (or OKS) 0.50:0.05:0.95, ``ap50`` / ``ap75`` at 0.5 / 0.75 — area "all",
  at most 100 detections per image (COCO defaults; keypoints: 20), averaged over categories that have ground
  truth. Categories are the distinct label strings; a predicted label absent from the ground truth only adds
  false positives to no category, as in COCO.
* Boxes are converted xyxy → COCO xywh. Ground-truth ``area`` is the box area for ``bbox`` and the mask area
  for ``segm``; for ``keypoints`` the OKS scale is the ground-truth box area (COCO uses the mask area).
* Keypoint OKS uses ``sigmas`` (one per keypoint): None → COCO's 17 person sigmas when K = 17, else a uniform
  ``DEFAULT_KPT_SIGMA`` (0.067, the mean COCO sigma). Gold figures with no labelled keypoint are ignored.
* Values are fractions; NaN when there is no ground-truth instance at all (AP undefined; COCOeval's -1).
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from ..geometry.points import Keypoints
from ._inputs import NAN, as_mask, as_xyxy, check_pairs, check_size

IOU_TYPES = ("bbox", "segm", "keypoints")
DEFAULT_KPT_SIGMA = 0.067


@dataclass(frozen=True)
class Instances:
    """The instances of ONE image, pixels of the original image.

    ``boxes``: N×4 xyxy (array or ``Boxes``); ``labels``: N class names; ``scores``: N confidences (required for
    predictions, ignored for ground truth); ``masks``: N masks (H×W bool arrays, ``Mask`` or COCO RLE) or None;
    ``keypoints``: N×K×3 (x, y, visibility 0/1/2) array or N ``Keypoints``, or None; ``iscrowd``: N flags
    (ground truth only; crowd regions match detections without penalty, as in COCO) or None; ``areas``: N
    ground-truth areas in pixels² (e.g. a COCO file's ``area``) overriding the box / mask area (OKS scale and
    COCO area ranges) or None.
    """

    boxes: Any
    labels: Sequence[str]
    scores: Any = None
    masks: Sequence[Any] | None = None
    keypoints: Any = None
    iscrowd: Sequence[bool] | None = field(default=None)
    areas: Sequence[float] | None = None


def _keypoints_array(value: Any, n: int, what: str) -> np.ndarray:
    if n and all(isinstance(k, Keypoints) for k in value):
        return np.stack([np.concatenate([k.xy, k.visibility[:, None]], axis=1) for k in value]).astype(np.float64)
    arr = np.asarray(value, dtype=np.float64)
    if arr.size == 0 and n == 0:
        return arr.reshape(0, 0, 3)
    if arr.ndim != 3 or arr.shape[0] != n or arr.shape[2] != 3:
        raise ValueError(f"{what}: keypoints must be N×K×3 (x, y, visibility) with N = {n}, got shape {arr.shape}")
    return arr


def _annotations(inst: Instances, image_id: int, size: tuple[int, int], iou_type: str, is_pred: bool, what: str):
    """COCO annotation dicts (without ids) for one image's instances."""
    boxes = as_xyxy(inst.boxes, f"{what} boxes")
    n = len(boxes)
    labels = list(inst.labels)
    if not all(isinstance(label, str) for label in labels):
        raise TypeError(f"{what}: labels must be class-name strings, got {labels!r:.80}")
    if len(labels) != n:
        raise ValueError(f"{what}: {n} boxes but {len(labels)} labels; expected one label per box")
    scores = None
    if is_pred:
        if inst.scores is None:
            raise ValueError(f"{what}: predictions need scores (one confidence per box) for AP")
        scores = np.asarray(inst.scores, dtype=np.float64).reshape(-1)
        if len(scores) != n or not np.isfinite(scores).all():
            raise ValueError(f"{what}: expected {n} finite scores, got {inst.scores!r:.80}")
    crowd = [False] * n if inst.iscrowd is None or is_pred else [bool(c) for c in inst.iscrowd]
    if len(crowd) != n:
        raise ValueError(f"{what}: {n} boxes but {len(crowd)} iscrowd flags")
    if inst.areas is not None and len(inst.areas) != n:
        raise ValueError(f"{what}: {n} boxes but {len(inst.areas)} areas")
    masks = kps = None
    if iou_type == "segm" and n:
        if inst.masks is None or len(inst.masks) != n:
            raise ValueError(f"{what}: mask AP needs one mask per instance ({n}), got {inst.masks and len(inst.masks)}")
        masks = [as_mask(m, f"{what} mask {j}", shape=(size[1], size[0])) for j, m in enumerate(inst.masks)]
    if iou_type == "keypoints" and n:
        if inst.keypoints is None:
            raise ValueError(f"{what}: keypoint AP needs keypoints (N×K×3) for every instance")
        kps = _keypoints_array(inst.keypoints, n, what)
    anns = []
    for j in range(n):
        x1, y1, x2, y2 = (float(v) for v in boxes[j])
        ann: dict[str, Any] = {"image_id": image_id, "category_id": labels[j], "iscrowd": int(crowd[j]),
                               "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1)}  # fmt: skip
        if masks is not None:
            rle = mask_utils.encode(np.asfortranarray(masks[j].astype(np.uint8)))
            rle["counts"] = rle["counts"].decode("ascii")
            ann["segmentation"] = rle
            ann["area"] = float(masks[j].sum())
        if kps is not None:
            ann["keypoints"] = kps[j].reshape(-1).tolist()
            ann["num_keypoints"] = int((kps[j][:, 2] > 0).sum())
        if inst.areas is not None and not is_pred:
            ann["area"] = float(inst.areas[j])
        if scores is not None:
            ann["score"] = float(scores[j])
            if iou_type != "bbox":  # COCO result format: loadRes derives bbox/area from the mask or keypoints
                del ann["bbox"]
        anns.append(ann)
    return anns


def build_coco(golds: Sequence[Instances], preds: Sequence[Instances], image_sizes: Sequence[Any], iou_type: str):
    """In-memory (COCO ground truth, COCO detections) for ``COCOeval``; image ids are 1..N in input order."""
    if iou_type not in IOU_TYPES:
        raise ValueError(f"iou_type must be one of {IOU_TYPES}, got {iou_type!r}")
    n = check_pairs(preds, golds, "detection_ap")
    if len(image_sizes) != n:
        raise ValueError(f"detection_ap: got {len(image_sizes)} image sizes for {n} images")
    sizes = [check_size(s, f"image {i}") for i, s in enumerate(image_sizes)]
    gt_anns, dt_anns = [], []
    for i in range(n):
        gt_anns += _annotations(golds[i], i + 1, sizes[i], iou_type, False, f"ground truth of image {i}")
        dt_anns += _annotations(preds[i], i + 1, sizes[i], iou_type, True, f"prediction for image {i}")
    names = sorted({a["category_id"] for a in gt_anns + dt_anns})
    cat_id = {name: k + 1 for k, name in enumerate(names)}
    for k, a in enumerate(gt_anns):
        a.update(id=k + 1, category_id=cat_id[a["category_id"]])  # ids from 1: COCOeval reads id 0 as "unmatched"
    for a in dt_anns:
        a["category_id"] = cat_id[a["category_id"]]
    images = [{"id": i + 1, "width": w, "height": h} for i, (w, h) in enumerate(sizes)]
    categories = [{"id": cat_id[name], "name": name} for name in names]
    gt = COCO()
    gt.dataset = {"images": images, "annotations": gt_anns, "categories": categories}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        if dt_anns:
            dt = gt.loadRes(dt_anns)
        else:  # loadRes refuses an empty list; no detections is a valid (AP 0) answer
            dt = COCO()
            dt.dataset = {"images": images, "annotations": [], "categories": categories}
            dt.createIndex()
    return gt, dt


def _sigmas(golds: Sequence[Instances], preds: Sequence[Instances], sigmas: Sequence[float] | None) -> np.ndarray | None:
    ks = {_keypoints_array(x.keypoints, len(as_xyxy(x.boxes, "boxes")), "keypoints").shape[1]
          for x in (*golds, *preds) if x.keypoints is not None and len(as_xyxy(x.boxes, "boxes"))}  # fmt: skip
    if len(ks) > 1:
        raise ValueError(f"every figure needs the same number of keypoints, got {sorted(ks)}")
    k = ks.pop() if ks else 17
    if sigmas is None:
        return None if k == 17 else np.full(k, DEFAULT_KPT_SIGMA)
    arr = np.asarray(sigmas, dtype=np.float64).reshape(-1)
    if len(arr) != k or not (arr > 0).all():
        raise ValueError(f"sigmas must be {k} positive numbers (one per keypoint), got {list(sigmas)}")
    return arr


def detection_ap(
    golds: Sequence[Instances],
    preds: Sequence[Instances],
    image_sizes: Sequence[tuple[int, int]],
    iou_type: str = "bbox",
    sigmas: Sequence[float] | None = None,
) -> dict[str, float]:
    """COCO AP over images: ``{"ap", "ap50", "ap75"}`` for ``iou_type`` bbox | segm | keypoints.

    ``golds[i]`` / ``preds[i]`` are image i's instances, ``image_sizes[i]`` its (width, height).
    """
    gt, dt = build_coco(golds, preds, image_sizes, iou_type)
    if not gt.getAnnIds():
        return {"ap": NAN, "ap50": NAN, "ap75": NAN}
    ev = COCOeval(gt, dt, iouType=iou_type)
    if iou_type == "keypoints":
        s = _sigmas(golds, preds, sigmas)
        if s is not None:
            ev.params.kpt_oks_sigmas = s
    with contextlib.redirect_stdout(io.StringIO()):
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    stats = [NAN if v < 0 else float(v) for v in ev.stats[:3]]
    return dict(zip(("ap", "ap50", "ap75"), stats))


def box_ap(golds: Sequence[Instances], preds: Sequence[Instances], image_sizes: Sequence[tuple[int, int]]) -> dict[str, float]:
    """Box AP (``ap``, ``ap50``, ``ap75``); see :func:`detection_ap`."""
    return detection_ap(golds, preds, image_sizes, "bbox")


def mask_ap(golds: Sequence[Instances], preds: Sequence[Instances], image_sizes: Sequence[tuple[int, int]]) -> dict[str, float]:
    """Mask AP (``ap``, ``ap50``, ``ap75``); instances need ``masks``; see :func:`detection_ap`."""
    return detection_ap(golds, preds, image_sizes, "segm")


def keypoint_ap(
    golds: Sequence[Instances],
    preds: Sequence[Instances],
    image_sizes: Sequence[tuple[int, int]],
    sigmas: Sequence[float] | None = None,
) -> dict[str, float]:
    """Keypoint (OKS) AP (``ap``, ``ap50``, ``ap75``); instances need ``keypoints``; see :func:`detection_ap`."""
    return detection_ap(golds, preds, image_sizes, "keypoints", sigmas)

"""Box / mask / keypoint AP agree with pycocotools COCOeval run directly on real COCO files (coco_tiny, coco_mini)."""

from __future__ import annotations

import contextlib
import io
import json
import math

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from vistakit.geometry.masks import Mask
from vistakit.metrics.detection import Instances, box_ap, detection_ap, keypoint_ap, mask_ap
from vistakit.paths import shared_data_dir


def _reference(path, dets, iou_type):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(path))
        ev = COCOeval(gt, gt.loadRes(dets), iouType=iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return dict(zip(("ap", "ap50", "ap75"), ev.stats[:3]))


def _load(path, with_masks):
    data = json.loads(path.read_text())
    cats = {c["id"]: c["name"] for c in data["categories"]}
    images = sorted(data["images"], key=lambda im: im["id"])
    by_img = {im["id"]: [] for im in images}
    for a in data["annotations"]:
        by_img[a["image_id"]].append(a)
    golds = []
    for im in images:
        anns = by_img[im["id"]]
        xywh = np.array([a["bbox"] for a in anns], dtype=np.float64).reshape(-1, 4)
        masks = None
        if with_masks:
            masks = [Mask.from_coco_segmentation(a["segmentation"], im["height"], im["width"]).array for a in anns]
        kps = None
        if anns and "keypoints" in anns[0]:
            kps = np.array([a["keypoints"] for a in anns], dtype=np.float64).reshape(len(anns), -1, 3)
        golds.append(Instances(np.c_[xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], [cats[a["category_id"]] for a in anns],
                               masks=masks, keypoints=kps, iscrowd=[a["iscrowd"] for a in anns],
                               areas=[a["area"] for a in anns]))  # fmt: skip
    return images, by_img, cats, golds


def _perturbed(images, by_img, rng, kind):
    """COCO-format detections (reference) and the same as typed Instances: shifted / eroded / jittered, some
    dropped, a few false positives, random scores."""
    dets, preds = [], []
    for im in images:
        boxes, labels, scores, masks, kps = [], [], [], [], []
        for a in by_img[im["id"]]:
            if a["iscrowd"] or rng.random() < 0.2:
                continue
            x, y, w, h = a["bbox"]
            s = float(rng.random())
            d = {"image_id": im["id"], "category_id": a["category_id"], "score": s}
            if kind == "bbox":
                dx, dy = rng.normal(0, 0.1, 2) * (w, h)
                d["bbox"] = [x + dx, y + dy, w, h]
                boxes.append([x + dx, y + dy, x + dx + w, y + dy + h])
            elif kind == "segm":
                m = Mask.from_coco_segmentation(a["segmentation"], im["height"], im["width"]).array
                m = cv2.erode(m.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
                rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
                d["segmentation"] = {"size": rle["size"], "counts": rle["counts"].decode()}
                masks.append(d["segmentation"])  # RLE dicts are accepted as masks
                boxes.append([x, y, x + w, y + h])
            else:
                k = np.array(a["keypoints"], dtype=np.float64).reshape(-1, 3)
                k[:, :2] += rng.normal(0, 4, (len(k), 2))
                k[:, 2] = 1
                d["keypoints"] = k.reshape(-1).tolist()
                kps.append(k)
                boxes.append([x, y, x + w, y + h])
            labels.append(a["category_id"])
            scores.append(s)
            dets.append(d)
        preds.append((boxes, labels, scores, masks, kps))
    return dets, preds


def _typed(preds, cats):
    return [Instances(np.array(b, dtype=np.float64).reshape(-1, 4), [cats[c] for c in lab], scores=s,
                      masks=m, keypoints=np.array(k).reshape(len(b), -1, 3) if k else None)
            for b, lab, s, m, k in preds]  # fmt: skip


@pytest.fixture(scope="module")
def tiny():
    path = shared_data_dir() / "coco_tiny" / "annotations" / "instances_train2017.json"
    return (path, *_load(path, with_masks=True))


@pytest.mark.parametrize("kind", ["bbox", "segm"])
def test_ap_matches_cocoeval_on_coco_tiny(tiny, kind):
    path, images, by_img, cats, golds = tiny
    dets, preds = _perturbed(images, by_img, np.random.default_rng(0), kind)
    sizes = [(im["width"], im["height"]) for im in images]
    ref = _reference(path, dets, kind)
    ours = (box_ap if kind == "bbox" else mask_ap)(golds, _typed(preds, cats), sizes)
    assert 0.05 < ref["ap"] < 0.95  # the perturbation makes an imperfect, non-trivial score
    for name in ("ap", "ap50", "ap75"):
        assert ours[name] == pytest.approx(ref[name], abs=1e-6)


def test_keypoint_ap_matches_cocoeval_on_coco_mini():
    path = shared_data_dir() / "coco_mini" / "annotations" / "person_keypoints_val2017.json"
    images, by_img, cats, golds = _load(path, with_masks=False)
    dets, preds = _perturbed(images, by_img, np.random.default_rng(1), "keypoints")
    sizes = [(im["width"], im["height"]) for im in images]
    ref = _reference(path, dets, "keypoints")
    ours = keypoint_ap(golds, _typed(preds, cats), sizes)
    assert 0.05 < ref["ap"] < 0.99
    for name in ("ap", "ap50", "ap75"):
        assert ours[name] == pytest.approx(ref[name], abs=1e-6)


def test_perfect_and_empty_predictions():
    golds = [Instances([[10, 10, 50, 40], [60, 5, 90, 30]], ["cat", "dog"]), Instances(np.zeros((0, 4)), [])]
    perfect = [Instances([[10, 10, 50, 40], [60, 5, 90, 30]], ["cat", "dog"], scores=[0.9, 0.8]),
               Instances(np.zeros((0, 4)), [], scores=[])]  # fmt: skip
    sizes = [(100, 50), (100, 50)]
    assert box_ap(golds, perfect, sizes) == pytest.approx({"ap": 1.0, "ap50": 1.0, "ap75": 1.0}, abs=1e-9)
    empty = [Instances(np.zeros((0, 4)), [], scores=[]) for _ in golds]
    assert box_ap(golds, empty, sizes) == {"ap": 0.0, "ap50": 0.0, "ap75": 0.0}
    wrong_label = [Instances([[10, 10, 50, 40]], ["dog"], scores=[0.9]), empty[1]]
    assert box_ap(golds, wrong_label, sizes)["ap"] == 0.0
    no_gold = box_ap([empty[0]], [perfect[0]], [(100, 50)])
    assert all(math.isnan(v) for v in no_gold.values())


def test_keypoints_with_custom_count_and_sigmas():
    kps = np.array([[[10, 10, 2], [30, 10, 2], [20, 30, 2]]], dtype=np.float64)
    gold = [Instances([[5, 5, 35, 35]], ["figure"], keypoints=kps)]
    pred = [Instances([[5, 5, 35, 35]], ["figure"], scores=[1.0], keypoints=kps)]
    assert keypoint_ap(gold, pred, [(40, 40)])["ap"] == pytest.approx(1.0)
    far = kps.copy()
    far[0, :, 0] += 15
    assert keypoint_ap(gold, [Instances([[5, 5, 35, 35]], ["figure"], scores=[1.0], keypoints=far)], [(40, 40)])["ap"] < 0.5
    with pytest.raises(ValueError, match="sigmas must be 3"):
        keypoint_ap(gold, pred, [(40, 40)], sigmas=[0.1, 0.1])


def test_bad_inputs_name_the_problem():
    gold = [Instances([[0, 0, 10, 10]], ["a"])]
    with pytest.raises(ValueError, match="need scores"):
        box_ap(gold, [Instances([[0, 0, 10, 10]], ["a"])], [(20, 20)])
    with pytest.raises(ValueError, match="1 boxes but 2 labels"):
        box_ap([Instances([[0, 0, 10, 10]], ["a", "b"])], gold, [(20, 20)])
    with pytest.raises(ValueError, match="x2 >= x1"):
        box_ap([Instances([[10, 0, 0, 10]], ["a"])], gold, [(20, 20)])
    with pytest.raises(ValueError, match="iou_type"):
        detection_ap(gold, gold, [(20, 20)], iou_type="polygon")
    with pytest.raises(ValueError, match="mask is 5x5"):
        mask_ap([Instances([[0, 0, 10, 10]], ["a"], masks=[np.ones((5, 5), bool)])],
                [Instances([[0, 0, 10, 10]], ["a"], scores=[1], masks=[np.ones((20, 20), bool)])], [(20, 20)])
    with pytest.raises(ValueError, match="1 predictions for 2"):
        box_ap(gold * 2, gold, [(20, 20)] * 2)

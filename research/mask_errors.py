"""Where do a model's segmentation answers fall short: the wrong object, or the right object badly outlined?

Reads the per-sample predictions that ``vistakit eval --predictions DIR`` (or ``scripts/eval_reference.sh``) wrote
for a mask task and, per record, rasterises the predicted and the gold mask at the original image size. A
prediction whose mask centroid lies inside the gold mask counts as "on the right object"; the script prints that
share and the mean IoU of those records and of the others, beside an IoU histogram, and the IoU of the two masks'
boxes (is the outline loose because its extent is wrong, or its shape?).

    python research/mask_errors.py data/sw_eval/test.jsonl results/test_predictions/res.jsonl [--task res]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from vistakit.data.dataset import RecordDataset
from vistakit.evaluation.score import prediction_from_json
from vistakit.geometry import SequenceGrammar
from vistakit.geometry.masks import foreground_bbox
from vistakit.metrics.grounding import box_iou
from vistakit.tasks import get_task
from vistakit.tasks.common import gold_masks, union_mask

EDGES = (0.0, 0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 1.0)


def _box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of the tight pixel boxes of two bool masks (0 when either is empty)."""
    boxes = [foreground_bbox(m) for m in (a, b)]
    return box_iou(*boxes) if None not in boxes else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("gold", type=Path, help="the split's JSON Lines file")
    ap.add_argument("pred", type=Path, help="the task's predictions file ({id, answer[, masks …]} per line)")
    ap.add_argument("--task", default="res", help="a task with one mask per record (default res)")
    ap.add_argument("--bins", type=int, default=64, help="location bins of the answers (default 64)")
    args = ap.parse_args()
    task = get_task(args.task)
    gold = {r.id: r for r in RecordDataset(args.gold, tasks=[args.task])}
    grammar = SequenceGrammar(args.bins)
    ious, inside, box_ious = [], [], []
    for line in args.pred.read_text(encoding="utf-8").splitlines():
        p = json.loads(line)
        rec = gold.get(p["id"])
        if rec is None:
            raise SystemExit(f"{args.pred}: prediction {p['id']!r} has no {args.task} record in {args.gold}")
        size = rec.image_sizes[0]
        pred = prediction_from_json(p, rec, task, grammar)  # painted masks (structured fields) win over the answer
        pm = union_mask(pred.mask_arrays(), size).astype(bool)
        gm = union_mask(gold_masks(rec), size).astype(bool)
        ious.append((pm & gm).sum() / max(1, (pm | gm).sum()))
        ys, xs = np.nonzero(pm)
        inside.append(bool(len(xs)) and bool(gm[int(ys.mean()), int(xs.mean())]))
        box_ious.append(_box_iou(pm, gm))
    if not ious:
        raise SystemExit(f"{args.pred}: no predictions")
    iou, on = np.array(ious), np.array(inside)
    print(f"{args.task}: {len(iou)} records, mean IoU {iou.mean():.3f}")
    print(f"  predicted centroid inside the gold mask: {on.mean():.2f} (mean IoU there {iou[on].mean():.3f})")
    if (~on).any():
        print(f"  elsewhere (or empty): {(~on).mean():.2f} (mean IoU there {iou[~on].mean():.3f})")
    box = np.array(box_ious)
    print(f"  IoU of the masks' boxes: {box.mean():.3f} (on the right object {box[on].mean():.3f}; "
          f"its masks {iou[on].mean():.3f})")  # fmt: skip
    hist = np.histogram(iou, bins=EDGES)[0]
    print("  IoU histogram: " + "  ".join(f"{a:.1f}-{b:.1f}: {n}" for a, b, n in zip(EDGES, EDGES[1:], hist)))


if __name__ == "__main__":
    main()

"""Grounded VQA: does the model box what the question names, and does its answer follow from its own boxes?

Reads the predictions ``vistakit eval --predictions DIR`` wrote for ``vqa`` on a split generated with
``--cite-referents vqa`` (so each gold record lists its question's referents) and prints, per question kind: the
share of answers citing as many boxes as there are referents, the cited boxes' Acc@0.5 and mean IoU against the
referents (in order), and the answer accuracy. For position questions it also checks the answer against the
model's own two boxes (is the first box's centre on the asked side of the second's?).

    python benchmarks/vqa_referents.py data/sw_dev_vqa/val.jsonl results/cite_probe_vqa/cited/vqa.jsonl
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from vistakit.data.dataset import RecordDataset
from vistakit.geometry import SequenceGrammar, box_iou_xyxy
from vistakit.tasks import get_task
from vistakit.tasks.common import norm_text

SIDES = {"to the left of": (0, -1), "to the right of": (0, 1), "above": (1, -1), "below": (1, 1)}


def side_answer(question: str, boxes: np.ndarray) -> str | None:
    """'yes' / 'no' for a position question from two xyxy boxes (centres compared), None if it names no side."""
    rel = next((r for r in SIDES if f" {r} " in question), None)
    if rel is None:
        return None
    axis, sign = SIDES[rel]
    ca, cb = (boxes[:, :2] + boxes[:, 2:]) / 2
    return "yes" if sign * (ca[axis] - cb[axis]) > 0 else "no"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("gold", type=Path, help="the split's JSON Lines file (generated with --cite-referents vqa)")
    ap.add_argument("pred", type=Path, help="vqa predictions ({id, answer} per line)")
    ap.add_argument("--bins", type=int, default=64, help="location bins of the answers (default 64)")
    args = ap.parse_args()
    task, grammar = get_task("vqa"), SequenceGrammar(args.bins)
    gold = {r.id: r for r in RecordDataset(args.gold, tasks=["vqa"])}
    rows: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for line in args.pred.read_text(encoding="utf-8").splitlines():
        p = json.loads(line)
        rec = gold.get(p["id"])
        if rec is None or rec.targets.boxes is None:
            continue
        kind = rec.meta.get("question_kind", "?")
        pred = task.parse(p["answer"], rec.image_sizes, grammar)
        ref = np.asarray(rec.targets.boxes, float).reshape(-1, 4)
        r = rows[kind]
        r["correct"].append(norm_text(pred.text) in {norm_text(a) for a in rec.targets.answers or []})
        r["count_ok"].append(len(pred.boxes) == len(ref))
        if len(pred.boxes) == len(ref) and len(ref):
            r["iou"] += np.diag(box_iou_xyxy(pred.boxes, ref)).tolist()
        if kind == "position" and len(pred.boxes) == 2:
            own = side_answer(rec.prompt, pred.boxes)
            if own is not None:
                r["follows_boxes"].append(own == norm_text(pred.text))
                r["boxes_right"].append(own == rec.targets.answers[0])
    if not rows:
        raise SystemExit(f"no vqa record of {args.gold} lists its referents: generate it with --cite-referents vqa")
    print(f"{'kind':10s} {'n':>4s} {'accuracy':>8s} {'n boxes ok':>10s} {'box acc50':>9s} {'box IoU':>7s}")
    for kind in sorted(rows):
        r = rows[kind]
        iou = np.asarray(r["iou"])
        print(f"{kind:10s} {len(r['correct']):4d} {np.mean(r['correct']):8.2f} {np.mean(r['count_ok']):10.2f} "
              f"{(iou >= 0.5).mean() if iou.size else float('nan'):9.2f} "
              f"{iou.mean() if iou.size else float('nan'):7.2f}")  # fmt: skip
    pos = rows.get("position", {})
    if pos.get("follows_boxes"):
        print(f"position: the answer agrees with the model's own two boxes in {np.mean(pos['follows_boxes']):.2f} "
              f"of {len(pos['follows_boxes'])}; those boxes imply the right answer in {np.mean(pos['boxes_right']):.2f}")  # fmt: skip


if __name__ == "__main__":
    main()

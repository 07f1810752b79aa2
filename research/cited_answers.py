"""Answers that cite their referents: does the model box what the text names, and does its answer follow from
its own boxes?

Reads the predictions ``vistakit eval --predictions DIR`` wrote for ``vqa`` or ``nlvr`` on a split generated with
``--cite-referents TASK`` (so each gold record lists its referents).

VQA, per question kind: the share of answers citing as many boxes as there are referents, the cited boxes'
Acc@0.5 and mean IoU against the referents (in order), the answer accuracy; for position questions, whether the
answer agrees with the model's own two boxes (is the first box's centre on the asked side of the second's?).
NLVR counting statements ("the first image has more …", "exactly N … in the two images together"): how often the
cited boxes per image number what the gold lists, how often the verdict is what the model's own counts imply, and
the accuracy.

    python research/cited_answers.py data/sw_dev_vqa/val.jsonl results/cite_probe_vqa/cited/vqa.jsonl
    python research/cited_answers.py data/sw_dev_nlvr/val.jsonl results/cite_probe_nlvr/cited/nlvr.jsonl
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from vistakit.data import Record
from vistakit.data.dataset import RecordDataset
from vistakit.data.shapesworld.language import NUMBER_WORDS
from vistakit.geometry import SequenceGrammar, box_iou_xyxy
from vistakit.tasks import Prediction, get_task
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


def count_verdict(statement: str, counts: list[int]) -> str | None:
    """'true' / 'false' for a ShapesWorld NLVR counting statement given the per-image counts, None otherwise."""
    if "has more" in statement:
        return "true" if counts[0] > counts[1] else "false"
    m = re.search(r"(?:exactly (\w+)|There are (no)) \w+ in the two images together", statement)
    word = m and (m.group(1) or m.group(2))
    if word in NUMBER_WORDS:
        return "true" if sum(counts) == NUMBER_WORDS.index(word) else "false"
    return None


def cited(task: str, gold: dict, lines: list[str], grammar: SequenceGrammar) -> Iterator[tuple[Record, Prediction]]:
    """(gold record, parsed prediction) for each prediction whose gold record lists its referents."""
    for line in lines:
        p = json.loads(line)
        rec = gold.get(p["id"])
        if rec is not None and rec.targets.boxes is not None:
            yield rec, get_task(task).parse(p["answer"], rec.image_sizes, grammar)


def vqa_report(gold: dict, lines: list[str], grammar: SequenceGrammar) -> None:
    rows: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for rec, pred in cited("vqa", gold, lines, grammar):
        kind = rec.meta.get("question_kind", "?")
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
        raise SystemExit("no vqa record of the gold file lists its referents: generate it with --cite-referents vqa")
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


def nlvr_report(gold: dict, lines: list[str], grammar: SequenceGrammar) -> None:
    rows: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for rec, pred in cited("nlvr", gold, lines, grammar):
        n = len(rec.images)
        gold_counts = [list(rec.targets.image_ids or []).count(k) for k in range(n)]
        own_counts = [pred.image_ids.count(k) for k in range(n)]
        kind = "more" if "has more" in rec.prompt else "exactly" if "together" in rec.prompt else "presence"
        r = rows[kind]
        r["correct"].append(pred.text == rec.targets.answers[0])
        r["counts_ok"].append(own_counts == gold_counts)
        own = count_verdict(rec.prompt, own_counts)
        if own is not None:
            r["follows"].append(own == pred.text)
    if not rows:
        raise SystemExit("no nlvr record of the gold file lists its referents: generate it with --cite-referents nlvr")
    print(f"{'statement':10s} {'n':>4s} {'accuracy':>8s} {'counts per image ok':>19s} {'verdict follows counts':>22s}")
    for kind in sorted(rows):
        r = rows[kind]
        follows = f"{np.mean(r['follows']):22.2f}" if r["follows"] else f"{'-':>22s}"
        print(
            f"{kind:10s} {len(r['correct']):4d} {np.mean(r['correct']):8.2f} {np.mean(r['counts_ok']):19.2f} {follows}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("gold", type=Path, help="the split's JSON Lines file (generated with --cite-referents TASK)")
    ap.add_argument("pred", type=Path, help="vqa or nlvr predictions ({id, answer} per line), named <task>.jsonl")
    ap.add_argument("--bins", type=int, default=64, help="location bins of the answers (default 64)")
    args = ap.parse_args()
    task = args.pred.stem
    if task not in ("vqa", "nlvr"):
        raise SystemExit(f"expected a vqa.jsonl or nlvr.jsonl predictions file, got {args.pred.name}")
    gold = {r.id: r for r in RecordDataset(args.gold, tasks=[task])}
    lines = args.pred.read_text(encoding="utf-8").splitlines()
    (vqa_report if task == "vqa" else nlvr_report)(gold, lines, SequenceGrammar(args.bins))


if __name__ == "__main__":
    main()

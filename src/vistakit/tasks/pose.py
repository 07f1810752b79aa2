"""``pose``: the named keypoints of every figure, ``<kps><kp>NAME X Y</kp>…</kps>`` per figure.

Targets: ``keypoints`` (one ``{"names", "xy", "visibility"}`` per figure, original pixels, COCO visibility).
Scored by COCO keypoint (OKS) AP, ``ap`` and ``ap50``; the OKS scale is the area of ``targets.boxes`` when given,
else of the box around each figure's labelled keypoints. Parsed figures carry no confidence (all score 1).
The parser reports in ``problems`` what it drops: other spans (boxes, points, …), text outside the figures, and an
answer with no figure that does not say ``<none>``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..data.record import Record, Targets
from ..geometry import Keypoints, SequenceGrammar
from ..geometry.sequence import ParseResult
from .base import Prediction, Task, register_task
from .common import Size, encode_keypoints, ignored_spans, spans_to_prediction


@register_task
class Pose(Task):
    name = "pose"
    metric_names = ("ap", "ap50")
    prompt_templates = (
        "Find the keypoints of every figure.",
        "Estimate the pose of each figure in the image.",
        "Locate the joints of all figures.",
    )

    def build_answer(self, targets: Targets, image_sizes: Sequence[Size], grammar: SequenceGrammar) -> str:
        if not targets.keypoints:
            return "<none>"
        return "".join(encode_keypoints(kp, image_sizes[0], grammar) for kp in targets.keypoints)

    def read(self, res: ParseResult, image_sizes: Sequence[Size]) -> Prediction:
        pred = spans_to_prediction(res, image_sizes, ("keypoints",))
        pred.problems += ignored_spans(res, ("keypoints", "none"))
        if res.text:
            pred.problems.append(f"text outside the figures ignored: {res.text[:60]!r}")
        if not pred.keypoints and not res.is_empty_answer:
            pred.problems.append("the answer has no keypoint figure (<kps>…</kps>) and does not say <none>")
        return pred

    def score(self, golds: list[Record], preds: list[Prediction]) -> dict[str, float]:
        from ..metrics.detection import Instances, keypoint_ap

        self.check_aligned(golds, preds)
        gold_inst, pred_inst = [], []
        for g, p in zip(golds, preds):
            figs = g.targets.keypoints or []
            names = figs[0]["names"] if figs else []
            gk = np.array([np.c_[np.asarray(f["xy"], float).reshape(-1, 2), f["visibility"]] for f in figs]).reshape(len(figs), len(names), 3)
            gb = np.asarray(g.targets.boxes, float).reshape(-1, 4) if g.targets.boxes else _boxes_of(gk)
            gold_inst.append(Instances(gb, ["figure"] * len(figs), keypoints=gk))
            pk = np.array([_aligned(k, names) for k in p.keypoints]).reshape(len(p.keypoints), len(names), 3)
            pred_inst.append(Instances(_boxes_of(pk), ["figure"] * len(pk), scores=np.ones(len(pk)), keypoints=pk))
        out = keypoint_ap(gold_inst, pred_inst, [g.image_sizes[0] for g in golds])
        return {k: out[k] for k in self.metric_names}


def _aligned(kp: Keypoints, names: Sequence[str]) -> np.ndarray:
    """K×3 (x, y, v) of a predicted figure in the gold keypoint order; names it lacks get visibility 0."""
    out = np.zeros((len(names), 3))
    index = {n: i for i, n in enumerate(kp.names)}
    for j, name in enumerate(names):
        if name in index and kp.visibility[index[name]] > 0:
            out[j] = (*kp.xy[index[name]], kp.visibility[index[name]])
    return out


def _boxes_of(kps: np.ndarray) -> np.ndarray:
    """N×4 xyxy boxes around each figure's labelled keypoints (N×K×3); at least 1 px wide and high."""
    boxes = np.zeros((len(kps), 4))
    for i, k in enumerate(kps):
        xy = k[k[:, 2] > 0, :2]
        if len(xy):
            boxes[i] = (*xy.min(0), *np.maximum(xy.max(0), xy.min(0) + 1))
    return boxes

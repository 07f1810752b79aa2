"""Score predictions against gold records for one task (the library part of ``vistakit score``).

Gold: a ``.jsonl`` of records (only records of the scored task are used). Predictions: a ``.jsonl`` of
``{"id": ..., "answer": "<model text>"}`` and/or structured fields in **original-image pixels**: ``boxes``
(N×[x1, y1, x2, y2]), ``masks`` (N COCO RLE), ``points`` (M×[x, y]), ``scores`` (N), ``image_ids`` (N),
``labels`` (N), ``text``, ``image`` (the path of a generated or edited image, or a list of paths, relative to the
predictions file's folder). Structured fields win over what is parsed from ``answer``. A gold record with no
prediction is scored as an empty prediction (wrong) and reported; a prediction for an unknown id is reported
and ignored.

``by`` (``vistakit score --by KEY``) also scores each group of gold records sharing a value of ``meta[KEY]`` —
e.g. ShapesWorld's VQA ``question_kind`` (colour, shape, count, …) or REC ``expression_kind`` — so a weak metric can
be traced to the kind of sample it fails on; records without the key form the group ``(none)``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..data.images import ImageError, read_image
from ..data.jsonl import iter_jsonl
from ..data.record import ANSWER_BINS, Record, check_rle, read_records
from ..geometry import Mask, SequenceGrammar
from ..tasks.base import Prediction, Task, get_task

PREDICTION_FIELDS = ("id", "answer", "boxes", "masks", "points", "scores", "image_ids", "labels", "text", "image")


@dataclass
class ScoreReport:
    """Metric values (NaN where undefined) and what did not line up between gold and predictions."""

    task: str
    metrics: dict[str, float]
    n_gold: int
    n_pred: int
    missing: list[str] = field(default_factory=list)  # gold ids without a prediction
    unknown: list[str] = field(default_factory=list)  # prediction ids not in the gold file
    problems: int = 0  # predictions whose answer text had parse problems
    by: str | None = None  # the meta key of the groups below
    groups: dict[str, dict[str, float]] = field(default_factory=dict)  # meta value → metrics of its records
    group_sizes: dict[str, int] = field(default_factory=dict)
    golds: list[Record] = field(default_factory=list, repr=False)  # the scored records, in file order
    preds: list[Prediction] = field(default_factory=list, repr=False)  # one per gold record (empty where missing)

    def warnings(self) -> list[str]:
        out = []
        if self.missing:
            out.append(f"warning: {len(self.missing)} gold record(s) have no prediction and count as wrong "
                       f"(first: {', '.join(self.missing[:5])})")  # fmt: skip
        if self.unknown:
            out.append(f"warning: {len(self.unknown)} prediction(s) have ids not in the gold file and are ignored "
                       f"(first: {', '.join(self.unknown[:5])})")  # fmt: skip
        if self.problems:
            out.append(f"warning: {self.problems} prediction(s) had unreadable parts in their answer text")
        return out

    def json_metrics(self) -> dict[str, Any]:
        """Metrics with NaN written as null (JSON has no NaN); with groups, also ``"by": {value: {metric: value}}``."""

        def clean(metrics: Mapping[str, float]) -> dict[str, float | None]:
            return {k: (None if isinstance(v, float) and math.isnan(v) else float(v)) for k, v in metrics.items()}

        out: dict[str, Any] = clean(self.metrics)
        if self.by is not None:
            out["by"] = {value: clean(m) for value, m in self.groups.items()}
        return out


def read_predictions(path: str | Path) -> dict[str, dict[str, Any]]:
    """id → prediction object; errors name the file and line."""
    out: dict[str, dict[str, Any]] = {}
    for where, obj in iter_jsonl(path, "predictions file"):
        if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
            raise ValueError(f"{where}: expected an object with a string 'id', got {json.dumps(obj)[:80]!r}")
        extra = sorted(set(obj) - set(PREDICTION_FIELDS))
        if extra:
            raise ValueError(f"{where}: unknown prediction field(s) {extra}; expected some of {list(PREDICTION_FIELDS)}")
        if obj["id"] in out:
            raise ValueError(f"{where}: the id {obj['id']!r} was already predicted; expected one prediction per id")
        obj["_where"] = where
        obj["_root"] = Path(path).parent
        out[obj["id"]] = obj
    return out


def prediction_from_json(obj: Mapping[str, Any], gold: Record, task: Task, grammar: SequenceGrammar) -> Prediction:
    """Parse ``answer`` (if any) with the task, then let structured fields (original pixels) replace parts."""
    where = obj.get("_where", "prediction")
    if "answer" in obj and not isinstance(obj["answer"], str):
        raise ValueError(f"{where}: answer must be a string, got {type(obj['answer']).__name__}")
    pred = task.parse(obj["answer"], gold.image_sizes, grammar) if "answer" in obj else Prediction()
    if "masks" in obj:
        _check_masks(obj, gold, where)  # before decoding: a garbage or 60000×60000 RLE is refused, not allocated
    try:
        if "boxes" in obj:
            boxes = np.asarray(obj["boxes"], np.float64).reshape(-1, 4)
            if not np.isfinite(boxes).all() or ((boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])).any():
                raise ValueError("boxes must be finite xyxy with x2 >= x1 and y2 >= y1")
            pred.boxes = boxes
        if "masks" in obj:
            pred.masks = [Mask.from_rle(m).array for m in obj["masks"]]
        if "points" in obj:
            pred.points = np.asarray(obj["points"], np.float64).reshape(-1, 2)
        if "scores" in obj:
            pred.scores = np.asarray(obj["scores"], np.float64).reshape(-1)
        if "image_ids" in obj:
            pred.image_ids = [int(k) for k in obj["image_ids"]]
        if "labels" in obj:
            pred.labels = [str(v) for v in obj["labels"]]
        if "text" in obj:
            pred.text = str(obj["text"])
        if "image" in obj:
            paths = obj["image"] if isinstance(obj["image"], list) else [obj["image"]]
            if not all(isinstance(p, str) and p for p in paths):
                raise ValueError("image must be a path or a list of paths")
            root = Path(obj.get("_root", "."))
            pred.images = [read_image(root / p, f"{where}: image {p!r}") for p in paths]
    except ImageError:
        raise
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: bad structured prediction ({exc}); expected original-pixel boxes N×4 xyxy, "
                         "masks as COCO RLE, points M×2, scores N, image_ids N, image a path") from None  # fmt: skip
    if "boxes" in obj or "masks" in obj:
        pred.empty = len(pred.boxes) == 0 and len(pred.masks) == 0
        n = max(len(pred.boxes), len(pred.masks))
        if "image_ids" not in obj:
            pred.image_ids = [0] * n
        if "labels" not in obj and len(pred.labels) != n:
            pred.labels = [""] * n
    return pred


def _check_masks(obj: Mapping[str, Any], gold: Record, where: str) -> None:
    """Each predicted mask must be a whole COCO RLE of the size of the gold image it lies on (``image_ids[i]``,
    else image 0): a ``ValueError`` naming the file:line and the mask otherwise."""
    masks, ids = obj["masks"], obj.get("image_ids")
    if not isinstance(masks, list):
        raise ValueError(f"{where}: masks must be a list of COCO RLEs, got {type(masks).__name__}")
    for i, m in enumerate(masks):
        k = ids[i] if isinstance(ids, list) and i < len(ids) else 0
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < len(gold.image_sizes):
            raise ValueError(f"{where}: image_ids[{i}] = {k!r:.20} is not an image of record {gold.id!r} "
                             f"(0..{len(gold.image_sizes) - 1})")  # fmt: skip
        w, h = gold.image_sizes[k]
        check_rle(m, where, f"masks[{i}]", (h, w))


NO_GROUP = "(none)"


def gold_records(task: Task, gold_path: str | Path) -> list[Record]:
    """The ``task`` records of a gold file (ValueError when there are none)."""
    golds = [r for r in read_records(gold_path) if r.task == task.name]
    if not golds:
        raise ValueError(f"{gold_path}: no gold records of task {task.name!r}")
    return golds


@dataclass
class Aligned:
    """One prediction per gold record, in the gold order (an empty one where the file has none)."""

    preds: list[Prediction]
    n_pred: int  # predictions in the file
    missing: list[str]
    unknown: list[str]
    problems: int


def align_predictions(task: Task, golds: list[Record], pred_path: str | Path, bins: int = ANSWER_BINS) -> Aligned:
    """Read a predictions file and parse each gold record's prediction (see the module docstring)."""
    grammar = SequenceGrammar(bins)
    raw = read_predictions(pred_path)
    gold_ids = {g.id for g in golds}
    preds, missing, problems = [], [], 0
    for g in golds:
        if g.id in raw:
            p = prediction_from_json(raw[g.id], g, task, grammar)
            problems += bool(p.problems)
        else:
            p = Prediction()
            missing.append(g.id)
        preds.append(p)
    return Aligned(preds, len(raw), missing, [k for k in raw if k not in gold_ids], problems)


def score_files(
    task_name: str, gold_path: str | Path, pred_path: str | Path, bins: int = ANSWER_BINS, by: str | None = None
) -> ScoreReport:
    """Score the predictions in ``pred_path`` against the ``task_name`` records of ``gold_path`` (and, with ``by``,
    each group of records sharing ``meta[by]``)."""
    task = get_task(task_name)
    golds = gold_records(task, gold_path)
    al = align_predictions(task, golds, pred_path, bins)
    metrics = task.score(golds, al.preds)
    preds = al.preds
    report = ScoreReport(task.name, metrics, len(golds), al.n_pred, al.missing, al.unknown, al.problems, by,
                         golds=golds, preds=preds)  # fmt: skip
    if by is not None:
        if not any(by in g.meta for g in golds):
            keys = sorted({k for g in golds for k in g.meta})
            raise ValueError(f"{gold_path}: no {task.name} record has meta key {by!r} to group by; "
                             f"its records have: {', '.join(keys) or 'no meta keys'}")  # fmt: skip
        members: dict[str, list[int]] = {}
        for i, g in enumerate(golds):
            members.setdefault(str(g.meta.get(by, NO_GROUP)), []).append(i)
        for value in sorted(members):
            idx = members[value]
            report.groups[value] = task.score([golds[i] for i in idx], [preds[i] for i in idx])
            report.group_sizes[value] = len(idx)
    return report


def format_table(report: ScoreReport) -> list[str]:
    """A two-column table of metric → value, headed by the task and counts."""
    lines = [f"task {report.task}: {report.n_gold} gold record(s), {report.n_pred} prediction(s)"]
    width = max([len(k) for k in report.metrics] + [6])
    lines.append(f"{'metric':<{width}}  value")
    for k, v in report.metrics.items():
        lines.append(f"{k:<{width}}  {'n/a' if math.isnan(v) else f'{v:.4f}'}")
    if report.by is not None:
        w = max([len(v) for v in report.groups] + [len(report.by)])
        lines.append("")
        lines.append(f"{report.by:<{w}}  {'n':>5}  metrics")
        for value, m in report.groups.items():
            vals = "  ".join(f"{k}={'n/a' if math.isnan(v) else f'{v:.4f}'}" for k, v in m.items())
            lines.append(f"{value:<{w}}  {report.group_sizes[value]:>5}  {vals}")
    return lines

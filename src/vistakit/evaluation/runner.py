"""Evaluate a model on a data folder: generate answers task by task (batched, through
:class:`~vistakit.model.engine.Engine`), parse them with the task, score them with ``task.score`` and write the
per-sample predictions.

Predictions go to ``<predictions_dir>/<task>.jsonl``, one ``{"id", "answer"[, "scores"]}`` per record: the
format ``vistakit score`` reads (``answer`` is the generated grammar text at the model's ``bins``, so re-score
with ``vistakit score --bins B``; ``scores`` are per-instance confidences, the mean probability of each box's or
mask's location tokens, when they line up with the parsed instances). With masks (and boxes) painted by the
super-link decoder the line also holds them as structured fields (``masks`` as COCO RLE, ``boxes``,
``image_ids``, ``labels``, original pixels), which ``vistakit score`` takes over the answer text. Metrics are
those of each task's ``score`` on the same predictions.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from ..data.dataset import RecordDataset
from ..data.record import Record
from ..geometry import Mask
from ..tasks import Prediction, get_task


@dataclass
class TaskResult:
    """One task's evaluation: its metrics, how many records, how many answers had unreadable parts, the
    predictions file (if written) and the seconds spent generating."""

    task: str
    metrics: dict[str, float]
    n: int
    problems: int = 0
    predictions: Path | None = None
    seconds: float = 0.0


@dataclass
class EvalReport:
    """All tasks' results; :attr:`metrics` is ``{task: {metric: value}}`` (NaN where undefined)."""

    results: dict[str, TaskResult] = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, dict[str, float]]:
        return {t: dict(r.metrics) for t, r in self.results.items()}

    def to_json(self) -> dict[str, Any]:
        """JSON-safe summary (NaN written as null)."""

        def clean(v: float) -> float | None:
            return None if isinstance(v, float) and math.isnan(v) else float(v)

        return {
            t: {"metrics": {k: clean(v) for k, v in r.metrics.items()}, "n": r.n, "problems": r.problems,
                "predictions": str(r.predictions) if r.predictions else None, "seconds": round(r.seconds, 3)}
            for t, r in self.results.items()
        }  # fmt: skip


def load_split(
    data_dir: str | Path, split: str = "test", tasks: Sequence[str] | None = None, limit: int | None = None
) -> dict[str, list[Record]]:
    """``{task: records}`` of ``data_dir/<split>.jsonl`` (only ``tasks`` if given; the first ``limit`` per task).

    A missing split or a task with no records raises naming what was found instead; a record whose image is
    missing, not an image, over the pixel limit or not the size its ``image_sizes`` says raises naming its
    file:line (:meth:`Record.check_images`, headers only).
    """
    path = Path(data_dir) / f"{split}.jsonl"
    if not path.is_file():
        found = sorted(p.stem for p in Path(data_dir).glob("*.jsonl")) if Path(data_dir).is_dir() else []
        raise FileNotFoundError(
            f"no split {split!r} in {data_dir} (expected {path}; found: {', '.join(found) or 'none'})"
        )
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1 records per task, got {limit}")
    for t in tasks or ():
        get_task(t)  # an unknown task name raises KeyError listing the known ones
    out: dict[str, list[Record]] = {}
    for rec in RecordDataset(path, tasks=tasks):
        pool = out.setdefault(rec.task, [])
        if limit is None or len(pool) < limit:
            rec.check_images()  # a missing, unreadable, oversized or mis-sized image: one line naming file:line
            pool.append(rec)
    missing = [t for t in tasks or () if t not in out]
    if missing:
        raise ValueError(f"{path} has no records of task(s) {missing}; it has {sorted(out) or 'none'}")
    if not out:
        raise ValueError(f"{path} holds no records")
    return dict(sorted(out.items()))


def predict_records(
    engine: Any,
    records: Sequence[Record],
    batch_size: int = 8,
    on_batch: Callable[[int], None] | None = None,
    **gen: Any,
) -> list[tuple[Any, Prediction]]:
    """``(GenerationResult, Prediction)`` per record, in order, generated ``batch_size`` records at a time.
    ``gen`` goes to the engine (``max_new_tokens``, ``num_beams``, ``constrained``); ``on_batch(n)`` is told
    after each batch how many records it held."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    out: list[tuple[Any, Prediction]] = []
    for i in range(0, len(records), batch_size):
        chunk = records[i : i + batch_size]
        out.extend(engine.predict_records(chunk, **gen))
        if on_batch is not None:
            on_batch(len(chunk))
    return out


def prediction_line(record: Record, result: Any, pred: Prediction, structured: bool = False) -> dict[str, Any]:
    """The ``vistakit score`` line of one record: id, generated answer and per-instance scores if any.
    ``structured`` (masks / boxes painted by the super-link decoder, which the answer text does not hold): also the
    prediction's ``masks`` (COCO RLE), ``boxes``, ``image_ids`` and ``labels`` in original pixels, which
    ``vistakit score`` takes over what it parses from the answer — so the file re-scores to the same figures."""
    line: dict[str, Any] = {"id": record.id, "answer": result.text}
    if pred.scores is not None and len(pred.scores):
        line["scores"] = [round(float(s), 6) for s in pred.scores]
    if structured and (pred.masks or len(pred.boxes)):
        line["masks"] = [Mask(m).to_rle() for m in pred.mask_arrays()]
        line["boxes"] = np.asarray(pred.boxes, np.float64).tolist()
        line["image_ids"] = [int(k) for k in pred.image_ids]
        line["labels"] = [str(v) for v in pred.labels]
    return line


def evaluate_records(
    engine: Any,
    records_by_task: Mapping[str, Sequence[Record]],
    batch_size: int = 8,
    predictions_dir: str | Path | None = None,
    progress: bool = False,
    **gen: Any,
) -> EvalReport:
    """Generate, parse and score each task's records; write ``<predictions_dir>/<task>.jsonl`` if given."""
    report = EvalReport()
    structured = hasattr(engine, "mask_readout") and engine.mask_readout(gen.get("masks")) == "decoder"
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=sum(len(r) for r in records_by_task.values()), unit="rec", desc="eval", leave=False)
    try:
        for task_name, records in records_by_task.items():
            task = get_task(task_name)
            if bar is not None:
                bar.set_postfix_str(task_name)
            t0 = time.perf_counter()
            pairs = predict_records(engine, list(records), batch_size, bar.update if bar is not None else None, **gen)
            seconds = time.perf_counter() - t0
            preds = [p for _, p in pairs]
            path = None
            if predictions_dir is not None:
                path = Path(predictions_dir) / f"{task_name}.jsonl"
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("w", encoding="utf-8") as fh:
                    for rec, (res, pred) in zip(records, pairs):
                        fh.write(json.dumps(prediction_line(rec, res, pred, structured), ensure_ascii=False) + "\n")
            metrics = task.score(list(records), preds)
            problems = sum(bool(p.problems) for p in preds)
            report.results[task_name] = TaskResult(task_name, metrics, len(records), problems, path, seconds)
    finally:
        if bar is not None:
            bar.close()
    return report


def evaluate_dir(
    engine: Any,
    data_dir: str | Path,
    split: str = "test",
    tasks: Sequence[str] | None = None,
    limit: int | None = None,
    batch_size: int = 8,
    predictions_dir: str | Path | None = None,
    progress: bool = False,
    **gen: Any,
) -> EvalReport:
    """:func:`evaluate_records` over the ``split`` of the data folder ``data_dir`` (see :func:`load_split`)."""
    by_task = load_split(data_dir, split, tasks, limit)
    return evaluate_records(engine, by_task, batch_size, predictions_dir, progress, **gen)


def format_table(report: EvalReport) -> list[str]:
    """One row per task: n, unreadable answers, then ``metric=value`` pairs."""
    if not report.results:
        return ["no tasks evaluated"]
    width = max(len("task"), *(len(t) for t in report.results))
    lines = [f"{'task':<{width}}  {'n':>5}  {'bad':>4}  metrics"]
    for t, r in report.results.items():
        vals = "  ".join(f"{k}={'n/a' if math.isnan(v) else f'{v:.4f}'}" for k, v in r.metrics.items())
        lines.append(f"{t:<{width}}  {r.n:>5}  {r.problems:>4}  {vals}")
    return lines


def iter_tasks(report: EvalReport) -> Iterable[tuple[str, str, float]]:
    """``(task, metric, value)`` for every metric of the report."""
    for t, r in report.results.items():
        for k, v in r.metrics.items():
            yield t, k, v

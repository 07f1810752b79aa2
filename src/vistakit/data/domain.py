"""What a model was trained on — its tasks, data sources and images — and how far an input lies from it.

A checkpoint folder may hold ``training_domain.json`` (:data:`DOMAIN_FILE`), written by training beside
``config.json`` and read by ``Vista.from_pretrained``::

    {"version": 1, "tasks": ["caption", "rec", ...], "sources": ["shapesworld"], "images_measured": 256,
     "records": {"caption": 1200, ...}, "features": {"longer_side": [64, 64], "colours": [2, 11],
     "top8_share": [0.98, 1.0]}, "channel_mean": [r, g, b], "channel_std": [r, g, b], "note": "..."}

The image measure (:func:`image_features`, one value per feature, each image on its own):

- ``longer_side``: the image's longer side in pixels (of every training record, from its ``image_sizes``);
- ``colours``: how many distinct colours the image has at 3 bits per channel (8 levels) once resized to 64 px on
  its longer side — flat synthetic scenes have a handful, photographs dozens to hundreds;
- ``top8_share``: the share of its pixels in its 8 commonest of those colours (near 1 for flat scenes).

``features`` holds each feature's 1st..99th percentile over the training images (a sample of up to
``max_images`` of them). An input is *far outside* the domain (:meth:`TrainingDomain.warnings`) when its longer
side is under half or over twice the trained range, or a colour feature lies outside the trained range widened
on each side by half its width (at least :data:`TOLERANCE_FLOOR`). ``channel_mean`` / ``channel_std`` (RGB in
[0, 1]) are recorded for reference, not checked.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .record import Record

DOMAIN_FILE = "training_domain.json"
DOMAIN_VERSION = 1
MEASURE_SIDE = 64  # colour features are measured on the image resized to this longer side
SIZE_FACTOR = 2.0  # a longer side under 1/2 or over 2x the trained range is far outside it
TOLERANCE_FLOOR = {"colours": 4.0, "top8_share": 0.05}
COLOUR_FEATURES = ("colours", "top8_share")
FEATURES = ("longer_side", *COLOUR_FEATURES)


def image_features(image: np.ndarray) -> dict[str, float]:
    """The domain measure of one H×W×3 uint8 RGB image: ``longer_side`` (px), ``colours`` (distinct colours at 3
    bits per channel after resizing to 64 px on the longer side) and ``top8_share`` (share of pixels in its 8
    commonest colours)."""
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8 or not arr.size:
        raise ValueError(f"expected an H×W×3 uint8 RGB image, got shape {arr.shape} dtype {arr.dtype}")
    h, w = arr.shape[:2]
    scale = MEASURE_SIDE / max(w, h)
    small = np.asarray(Image.fromarray(arr).resize((max(1, round(w * scale)), max(1, round(h * scale))),
                                                   Image.BILINEAR))  # fmt: skip
    q = small.astype(np.int64) >> 5
    counts = np.bincount((q[..., 0] * 64 + q[..., 1] * 8 + q[..., 2]).ravel(), minlength=512)
    top8 = np.sort(counts)[::-1][:8].sum() / counts.sum()
    return {"longer_side": float(max(w, h)), "colours": float((counts > 0).sum()), "top8_share": float(top8)}


@dataclass
class TrainingDomain:
    """A checkpoint's training record. ``tasks``: tasks it was trained on; ``sources``: the data sets' sources
    (``dataset.json``'s ``source``); ``records``: training records per task; ``features``: each image feature's
    trained [low, high] (see the module doc); ``channel_mean`` / ``channel_std``: RGB statistics in [0, 1]."""

    tasks: list[str]
    sources: list[str] = field(default_factory=list)
    records: dict[str, int] = field(default_factory=dict)
    features: dict[str, list[float]] = field(default_factory=dict)
    channel_mean: list[float] = field(default_factory=list)
    channel_std: list[float] = field(default_factory=list)
    images_measured: int = 0
    note: str = ""

    # --- the checks ---------------------------------------------------------------------------------------
    def task_warning(self, task: str | None) -> str | None:
        """A warning when ``task`` is not one this model was trained on (``None``: no task, no warning)."""
        if task is None or task in self.tasks:
            return None
        return (f"this model was never trained on task {task!r} (trained: {', '.join(self.tasks) or 'none'}); "
                f"expect an empty or wrong answer")  # fmt: skip

    def image_warning(self, features: Mapping[str, float], label: str = "the image") -> str | None:
        """A warning naming every feature of one image that lies far outside the trained range, or ``None``."""
        reasons = []
        side = self.features.get("longer_side")
        if side and not side[0] / SIZE_FACTOR <= features["longer_side"] <= side[1] * SIZE_FACTOR:
            reasons.append(f"its longer side is {features['longer_side']:.0f} px (trained: {_span(side, '.0f')} px)")
        for name in COLOUR_FEATURES:
            span = self.features.get(name)
            if span and not _within(features[name], span, TOLERANCE_FLOOR[name]):
                what = "distinct colours" if name == "colours" else "share of pixels in its 8 commonest colours"
                fmt = ".0f" if name == "colours" else ".2f"
                reasons.append(f"{what} {features[name]:{fmt}} (trained: {_span(span, fmt)})")
        if not reasons:
            return None
        where = f" ({', '.join(self.sources)})" if self.sources else ""
        return f"{label} is far outside this model's training images{where}: {'; '.join(reasons)}; " \
               f"expect unreliable answers"  # fmt: skip

    def warnings(self, task: str | None, images: Sequence[np.ndarray]) -> list[str]:
        """Every warning for a request of ``task`` about ``images`` (H×W×3 uint8 RGB): the task's, then one per
        image far outside the domain (images named "image k" from 1, as prompts count them, when several)."""
        out = [w for w in [self.task_warning(task)] if w]
        for k, im in enumerate(images):
            label = "the image" if len(images) == 1 else f"image {k + 1}"
            w = self.image_warning(image_features(im), label)
            if w:
                out.append(w)
        return out

    # --- files --------------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"version": DOMAIN_VERSION, "tasks": list(self.tasks), "sources": list(self.sources),
                "records": dict(sorted(self.records.items())), "features": {k: list(v) for k, v in self.features.items()},
                "channel_mean": list(self.channel_mean), "channel_std": list(self.channel_std),
                "images_measured": self.images_measured, "note": self.note}  # fmt: skip

    @classmethod
    def from_json(cls, obj: Any, where: str = DOMAIN_FILE) -> TrainingDomain:
        if not isinstance(obj, Mapping):
            raise ValueError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        tasks = obj.get("tasks")
        if not isinstance(tasks, list) or not all(isinstance(t, str) for t in tasks):
            raise ValueError(f"{where}: 'tasks' must be a list of task names, got {tasks!r:.80}")
        features = obj.get("features", {})
        if not isinstance(features, Mapping):
            raise ValueError(f"{where}: 'features' must be an object of [low, high] pairs, got {features!r:.80}")
        spans: dict[str, list[float]] = {}
        for name, span in features.items():
            ok = isinstance(span, list) and len(span) == 2 and all(isinstance(v, (int, float)) for v in span)
            if not ok or span[0] > span[1]:
                raise ValueError(f"{where}: features.{name} must be [low, high] with low <= high, got {span!r:.60}")
            spans[str(name)] = [float(span[0]), float(span[1])]
        return cls(tasks=list(tasks), sources=[str(s) for s in obj.get("sources", [])],
                   records={str(k): int(v) for k, v in dict(obj.get("records", {})).items()}, features=spans,
                   channel_mean=[float(v) for v in obj.get("channel_mean", [])],
                   channel_std=[float(v) for v in obj.get("channel_std", [])],
                   images_measured=int(obj.get("images_measured", 0)), note=str(obj.get("note", "")))  # fmt: skip

    def merged(self, earlier: TrainingDomain | None) -> TrainingDomain:
        """This run's domain together with that of the checkpoint it started from (tasks and sources united,
        ranges widened): a fine-tune still knows what its initialisation learnt."""
        if earlier is None:
            return self
        spans = dict(earlier.features)
        for name, (lo, hi) in self.features.items():
            old = spans.get(name)
            spans[name] = [min(lo, old[0]), max(hi, old[1])] if old else [lo, hi]
        records = Counter(earlier.records)
        records.update(self.records)
        return TrainingDomain(
            tasks=sorted(set(self.tasks) | set(earlier.tasks)), sources=sorted(set(self.sources) | set(earlier.sources)),
            records=dict(records), features=spans, channel_mean=self.channel_mean, channel_std=self.channel_std,
            images_measured=self.images_measured + earlier.images_measured,
            note="; ".join(n for n in (earlier.note, self.note) if n),
        )  # fmt: skip


def read_domain(folder: str | Path) -> TrainingDomain | None:
    """The training domain recorded in a checkpoint folder, or ``None`` when it records none. A malformed file
    raises ``ValueError`` naming it."""
    path = Path(folder) / DOMAIN_FILE
    if not path.is_file():
        return None
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return TrainingDomain.from_json(obj, str(path))


def write_domain(folder: str | Path, domain: TrainingDomain) -> Path:
    """Write ``training_domain.json`` into ``folder`` atomically (temp file, then rename)."""
    path = Path(folder) / DOMAIN_FILE
    tmp = path.with_name(f".{DOMAIN_FILE}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(domain.to_json(), indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


# --- measuring training data --------------------------------------------------------------------------------
def summarize_records(
    records: Iterable[Record], sources: Sequence[str] = (), tasks: Sequence[str] | None = None,
    max_images: int = 256, note: str = "",
) -> TrainingDomain:  # fmt: skip
    """The domain of training ``records`` (their ``root`` set, as :class:`RecordDataset` sets it): the tasks they
    hold (or ``tasks``, e.g. those a mixture gives weight), records per task, every record's image sizes, and the
    colour features of up to ``max_images`` of their images (evenly spaced, so the same data gives the same
    summary)."""
    counts: Counter[str] = Counter()
    sides: list[float] = []
    paths: list[Path] = []
    seen: set[Path] = set()
    for rec in records:
        if tasks is not None and rec.task not in tasks:
            continue
        counts[rec.task] += 1
        sides.extend(float(max(w, h)) for w, h in rec.image_sizes)
        for p in rec.image_paths():
            if p not in seen:
                seen.add(p)
                paths.append(p)
    if not counts:
        raise ValueError("no training records to summarise" + (f" for tasks {list(tasks)}" if tasks else ""))
    picked = [paths[int(i)] for i in np.linspace(0, len(paths) - 1, min(max_images, len(paths)))] if paths else []
    feats: dict[str, list[float]] = {n: [] for n in COLOUR_FEATURES}
    means, stds = [], []
    for p in dict.fromkeys(picked):
        try:
            with Image.open(p) as im:
                arr = np.asarray(im.convert("RGB"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read training image {p}: {exc}") from None
        f = image_features(arr)
        for n in COLOUR_FEATURES:
            feats[n].append(f[n])
        pixels = arr.reshape(-1, 3) / 255.0
        means.append(pixels.mean(0))
        stds.append(pixels.std(0))
    spans = {"longer_side": [min(sides), max(sides)]} if sides else {}
    for n, vals in feats.items():
        if vals:
            lo, hi = np.quantile(vals, [0.01, 0.99])
            spans[n] = [round(float(lo), 4), round(float(hi), 4)]
    return TrainingDomain(
        tasks=sorted(counts), sources=sorted(set(sources)), records=dict(counts), features=spans,
        channel_mean=[round(float(v), 4) for v in np.mean(means, 0)] if means else [],
        channel_std=[round(float(v), 4) for v in np.mean(stds, 0)] if stds else [],
        images_measured=len(means), note=note,
    )  # fmt: skip


def data_source(folder: str | Path) -> str:
    """A data folder's ``dataset.json`` ``source`` (its folder name when it has none)."""
    path = Path(folder) / "dataset.json"
    if path.is_file():
        try:
            source = json.loads(path.read_text(encoding="utf-8")).get("source")
        except (json.JSONDecodeError, AttributeError):
            source = None
        if isinstance(source, str) and source:
            return source
    return Path(folder).name


def summarize_folder(
    folder: str | Path, split: str = "train", tasks: Sequence[str] | None = None, max_images: int = 256, note: str = ""
) -> TrainingDomain:
    """The domain of a data folder's ``split`` (see :func:`summarize_records`)."""
    from .dataset import RecordDataset

    path = Path(folder) / f"{split}.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{folder} has no {split}.jsonl to summarise")
    return summarize_records(RecordDataset(path), [data_source(folder)], tasks, max_images, note)


def _within(value: float, span: Sequence[float], floor: float) -> bool:
    tol = max(0.5 * (span[1] - span[0]), floor)
    return span[0] - tol <= value <= span[1] + tol


def _span(span: Sequence[float], fmt: str) -> str:
    lo, hi = (format(v, fmt) for v in span)
    return lo if lo == hi else f"{lo}–{hi}"

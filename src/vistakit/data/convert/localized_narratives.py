"""Localized Narratives (image jsonl) → ``grounded_caption`` records with per-word points and mouse traces.

Source schema, one JSON object per line: ``dataset_id, image_id, annotator_id, caption,
timed_caption: [{utterance, start_time, end_time}], traces: [[{x, y, t}, ...], ...]`` — ``x, y`` normalised to
the image (they may stray slightly outside [0, 1] when the mouse leaves it), ``t`` and the utterance times in
seconds on the same clock.

Each utterance is found in the caption (in order, case-insensitively; edge punctuation dropped) and becomes a
grounded word whose ``point`` is the **mean of the trace points recorded during the utterance**, in pixels of
the original image (clipped to it), with those points as the word's ``trace``. Utterances made only of
closed-class words ("a", "the", "in this image", "we can see", ...) are not grounded unless ``all_words`` is set, so the answer points at content
words as the ``grounded_caption`` task describes. ``targets.traces`` holds every trace segment in pixels.
Image sizes come from the image file headers (the jsonl has none), so ``--images`` is needed; narratives whose
image is not found are skipped and counted.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Sequence

import numpy as np

from ..jsonl import iter_jsonl
from ..record import Targets
from .base import (
    Conversion,
    Converter,
    RecordBuilder,
    find_image,
    get_field,
    image_size_from_file,
    register_converter,
    require_dir,
    require_file,
)

# File names of the images each Localized Narratives subset annotates (by dataset_id); others: "{image_id}.jpg".
IMAGE_NAMES = {"mscoco_train2017": "{image_id:0>12}.jpg", "mscoco_val2017": "{image_id:0>12}.jpg"}
# Closed-class English words (and the narrators' "in this image/picture/photo"): spoken while the annotator
# is not pointing at any object.
FUNCTION_WORDS = frozenset(
    """a an the this that these those there here in on at of to from with without by for and or but as is are was
    were be been being it its it's we i you he she they them his her their our my your can could will would see
    also some few many other which who what where when while into onto over under near behind image picture photo
    """.split()
)
_EDGE_PUNCT = re.compile(r"^[^\w]+|[^\w]+$")


def read_jsonl(path: Path) -> Iterable[tuple[str, dict[str, Any]]]:
    """(where, object) per non-blank line; malformed JSON or a non-object → ``ValueError`` naming the line."""
    for where, obj in iter_jsonl(path, "Localized Narratives file"):
        if not isinstance(obj, dict):
            raise ValueError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        yield where, obj


def to_pixels(xy: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """N×2 normalised (x, y) → N×2 pixels of the (W, H) image, clipped to it."""
    w, h = size
    return np.clip(xy * np.array([w, h], np.float64), 0, [w, h])


def grounded_word(text: str, start: int, end: int, xy: np.ndarray, t: np.ndarray, image: int = 0) -> dict[str, Any]:
    """A ``targets.words`` entry: the mean of the N×2 pixel points ``xy`` (times ``t`` seconds) as its point."""
    order = np.argsort(t, kind="stable")  # segments may interleave; a trace's times must not decrease
    xy, t = xy[order], t[order]
    mean = xy.mean(axis=0)
    return {"text": text, "start": start, "end": end, "point": [round(float(mean[0]), 2), round(float(mean[1]), 2)],
            "image": image, "trace": trace_json(xy, t)}  # fmt: skip


def trace_json(xy: np.ndarray, t: np.ndarray) -> dict[str, Any]:
    return {"xy": [[round(float(x), 2), round(float(y), 2)] for x, y in xy], "t": [round(float(s), 3) for s in t]}


def locate_words(caption: str, utterances: Sequence[str]) -> list[tuple[int, int] | None]:
    """Character span in ``caption`` of each utterance (edge punctuation dropped), searched in order from the
    end of the previous match; ``None`` where an utterance is not found."""
    low, pos, out = caption.lower(), 0, []
    for utt in utterances:
        word = _EDGE_PUNCT.sub("", utt).lower()
        at = low.find(word, pos) if word else -1
        if at < 0:
            out.append(None)
            continue
        out.append((at, at + len(word)))
        pos = at + len(word)
    return out


def _trace_points(traces: Any, where: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every trace segment as (N×2 normalised xy, N times)."""
    if not isinstance(traces, list):
        raise ValueError(f"{where}: 'traces' must be a list of point lists, got {type(traces).__name__}")
    out = []
    for i, seg in enumerate(traces):
        if not isinstance(seg, list):
            raise ValueError(f"{where}: traces[{i}] must be a list of {{x, y, t}} points")
        pts = [
            [get_field(p, k, (int, float), f"{where}: traces[{i}][{j}]") for k in ("x", "y", "t")]
            for j, p in enumerate(seg)
        ]
        if pts:
            arr = np.asarray(pts, np.float64)
            out.append((arr[:, :2], arr[:, 2]))
    return out


def image_file_name(dataset_id: str, image_id: str, pattern: str | None) -> str:
    fmt = pattern or IMAGE_NAMES.get(dataset_id, "{image_id}.jpg")
    return fmt.format(image_id=image_id, dataset_id=dataset_id)


def convert_localized_narratives(
    annotations: str | Path,
    images: str | Path | None = None,
    split: str | None = None,
    image_pattern: str | None = None,
    all_words: bool = False,
    limit: int | None = None,
    seed: int = 0,
) -> Conversion:
    """One grounded_caption record per narrative whose image is found under ``images``."""
    path = require_file(annotations, "Localized Narratives jsonl")
    images_dir = require_dir(images, "--images")
    split = split or "train"
    conv = Conversion(source=f"Localized Narratives {path.name}")
    builder = RecordBuilder(seed)
    n = 0
    for where, obj in read_jsonl(path):
        if limit is not None and n >= limit:
            break
        n += 1
        dataset_id = str(get_field(obj, "dataset_id", str, where))
        image_id = str(get_field(obj, "image_id", (str, int), where))
        caption = get_field(obj, "caption", str, where)
        timed = get_field(obj, "timed_caption", list, where)
        segments = _trace_points(get_field(obj, "traces", list, where), where)
        name = image_file_name(dataset_id, image_id, image_pattern)
        src = find_image(images_dir, name)
        if src is None:
            conv.skip("image not found under --images")
            continue
        size = image_size_from_file(src)
        utts = [get_field(u, "utterance", str, f"{where}: timed_caption[{i}]") for i, u in enumerate(timed)]
        spans = locate_words(caption, utts)
        all_xy = np.concatenate([xy for xy, _ in segments]) if segments else np.zeros((0, 2))
        all_t = np.concatenate([t for _, t in segments]) if segments else np.zeros(0)
        words = []
        for i, (u, span) in enumerate(zip(timed, spans)):
            w = f"{where}: timed_caption[{i}]"
            t0, t1 = (get_field(u, k, (int, float), w) for k in ("start_time", "end_time"))
            if span is None:
                conv.skip("utterance not found in the caption")
                continue
            text = caption[span[0] : span[1]]
            if not all_words and all(tok in FUNCTION_WORDS for tok in text.lower().split()):
                continue
            inside = (all_t >= t0) & (all_t <= t1)
            if not inside.any():
                conv.skip("word without trace points")
                continue
            words.append(grounded_word(text, span[0], span[1], to_pixels(all_xy[inside], size), all_t[inside]))
        traces = []
        for xy, t in segments:
            if np.any(np.diff(t) < 0):
                conv.skip("trace segment with decreasing times")
                continue
            traces.append(trace_json(to_pixels(xy, size), t))
        rel = f"images/{name}"
        conv.image_sources[rel] = src
        rid = f"ln-{split}-{dataset_id}-{image_id}-{obj.get('annotator_id', n)}"
        targets = Targets(answers=[caption], words=words, traces=traces or None)
        meta = {"source": "localized_narratives", "dataset_id": dataset_id, "image_id": image_id,
                "annotator_id": obj.get("annotator_id")}  # fmt: skip
        conv.add(split, builder.build("grounded_caption", rid, [rel], [size], targets, meta=meta))
    conv.counts = {"narratives": n}
    return conv


def _arguments(group: Any) -> None:
    group.add_argument(
        "--image-pattern",
        help="localized-narratives: image file name pattern, e.g. '{image_id:0>12}.jpg' (default by dataset_id)",
    )
    group.add_argument("--all-words", action="store_true",
                       help="localized-narratives: ground every word, closed-class words included")  # fmt: skip


register_converter(Converter(
    "localized-narratives", "Localized Narratives image jsonl → grounded_caption records (per-word points, traces)",
    lambda a: convert_localized_narratives(a.annotations, a.images, a.split, a.image_pattern, a.all_words, a.limit, a.seed),
    _arguments,
))  # fmt: skip

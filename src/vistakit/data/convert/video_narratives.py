"""Video Localized Narratives → keyframe-level ``grounded_caption`` records.

Source schema, one JSON object per video: ``vidln_id, dataset_id, video_id, keyframe_names, annotator_id,
actor_narratives: [{actor_name, caption, noun_segments: [[start, end], ...], time_alignment: [{referenced_word,
referenced_word_start_idx, referenced_word_end_idx, start_ms, end_ms}], recording_start_time_ms_since_epoch,
traces: [[{x, y, time_ms_since_epoch, kf_idx}, ...]], keyframe_selection_indices}]``. ``x, y`` are normalised
to the keyframe; ``kf_idx`` indexes ``keyframe_names``; word times are milliseconds from the start of the voice
recording (``recording_start_time_ms_since_epoch``), traces carry absolute epoch milliseconds.

One record per (actor narrative, keyframe the annotator traced on): the image is that keyframe
(``frames/<dataset_id>/<video_id>/<keyframe_name>.jpg`` under ``--images``, default the ``frames`` folder beside
the jsonl), the answer the actor's caption, and each **noun segment** is a grounded word whose point is the mean
of the trace points on that keyframe recorded while its words were spoken. ``targets.traces`` holds the trace
segments on that keyframe (seconds from the recording start). Keyframes with no grounded noun are skipped.
Image sizes are read from the keyframe headers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

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
from .localized_narratives import grounded_word, read_jsonl, to_pixels, trace_json

_TRACE_KEYS = ("x", "y", "time_ms_since_epoch", "kf_idx")


def _points(actor: dict[str, Any], where: str) -> list[np.ndarray]:
    """Every trace segment as an N×4 array (x, y, epoch ms, keyframe index)."""
    out = []
    for i, seg in enumerate(get_field(actor, "traces", list, where)):
        if not isinstance(seg, list):
            raise ValueError(f"{where}: traces[{i}] must be a list of points")
        rows = [
            [get_field(p, k, (int, float), f"{where}: traces[{i}][{j}]") for k in _TRACE_KEYS]
            for j, p in enumerate(seg)
        ]
        if rows:
            out.append(np.asarray(rows, np.float64))
    return out


def _noun_times(actor: dict[str, Any], where: str) -> list[tuple[int, int, float, float]]:
    """(char start, char end, start ms, end ms) per noun segment, its time the span of the words it overlaps."""
    words = []
    for i, w in enumerate(get_field(actor, "time_alignment", list, where)):
        ww = f"{where}: time_alignment[{i}]"
        words.append(tuple(get_field(w, k, (int, float), ww) for k in
                           ("referenced_word_start_idx", "referenced_word_end_idx", "start_ms", "end_ms")))  # fmt: skip
    out = []
    for j, seg in enumerate(get_field(actor, "noun_segments", list, where)):
        if not (
            isinstance(seg, list) and len(seg) == 2 and all(isinstance(v, int) for v in seg) and 0 <= seg[0] < seg[1]
        ):
            raise ValueError(f"{where}: noun_segments[{j}] must be [start, end] character offsets, got {seg!r:.40}")
        hits = [(a, b) for s, e, a, b in words if s < seg[1] and e > seg[0]]
        if hits:
            out.append((seg[0], seg[1], min(a for a, _ in hits), max(b for _, b in hits)))
    return out


def convert_video_narratives(
    annotations: str | Path,
    images: str | Path | None = None,
    split: str | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> Conversion:
    """Keyframe-level grounded_caption records from a Video Localized Narratives jsonl."""
    path = require_file(annotations, "Video Localized Narratives jsonl")
    images_dir = (
        require_dir(images, "--images")
        if images is not None
        else require_dir(path.parent / "frames", "frames folder beside the jsonl (or --images)")
    )
    split = split or "train"
    conv = Conversion(source=f"Video Localized Narratives {path.name}")
    builder = RecordBuilder(seed)
    n_videos = n_actors = n_points = 0
    for where, video in read_jsonl(path):
        if limit is not None and n_videos >= limit:
            break
        n_videos += 1
        dataset_id = get_field(video, "dataset_id", str, where)
        video_id = get_field(video, "video_id", str, where)
        keyframes = get_field(video, "keyframe_names", list, where)
        for a, actor in enumerate(get_field(video, "actor_narratives", list, where)):
            aw = f"{where}: actor_narratives[{a}]"
            n_actors += 1
            caption = get_field(actor, "caption", str, aw)
            t0 = get_field(actor, "recording_start_time_ms_since_epoch", (int, float), aw)
            segments = _points(actor, aw)
            nouns = _noun_times(actor, aw)
            n_points += sum(len(s) for s in segments)
            allp = np.concatenate(segments) if segments else np.zeros((0, 4))
            for k in sorted({int(v) for v in allp[:, 3]}):
                if not 0 <= k < len(keyframes):
                    raise ValueError(f"{aw}: kf_idx {k} is out of range 0..{len(keyframes) - 1} of keyframe_names")
                rel_src = f"{dataset_id}/{video_id}/{keyframes[k]}.jpg"
                src = find_image(images_dir, rel_src)
                if src is None:
                    conv.skip("keyframe image not found")
                    continue
                size = image_size_from_file(src)
                on_kf = allp[allp[:, 3] == k]
                words = []
                for s, e, ms0, ms1 in nouns:
                    inside = on_kf[(on_kf[:, 2] >= t0 + ms0) & (on_kf[:, 2] <= t0 + ms1)]
                    if len(inside):
                        words.append(
                            grounded_word(
                                caption[s:e], s, e, to_pixels(inside[:, :2], size), (inside[:, 2] - t0) / 1000
                            )
                        )
                if not words:
                    conv.skip("keyframe without a grounded noun")
                    continue
                traces = [trace_json(to_pixels(seg[seg[:, 3] == k][:, :2], size), (seg[seg[:, 3] == k][:, 2] - t0) / 1000)
                          for seg in segments if (seg[:, 3] == k).any()]  # fmt: skip
                rel = f"images/{rel_src}"
                conv.image_sources[rel] = src
                rid = f"vln-{split}-{video_id}-a{a}-kf{k}"
                meta = {"source": "video_localized_narratives", "dataset_id": dataset_id, "video_id": video_id,
                        "vidln_id": video.get("vidln_id"), "actor_name": actor.get("actor_name"), "keyframe_index": k,
                        "keyframe_name": keyframes[k], "annotator_id": video.get("annotator_id")}  # fmt: skip
                targets = Targets(answers=[caption], words=words, traces=traces)
                conv.add(split, builder.build("grounded_caption", rid, [rel], [size], targets, meta=meta))
    conv.counts = {"videos": n_videos, "actor_narratives": n_actors, "trace_points": n_points}
    return conv


register_converter(Converter(
    "video-localized-narratives", "Video Localized Narratives jsonl → keyframe-level grounded_caption records",
    lambda a: convert_video_narratives(a.annotations, a.images, a.split, a.limit, a.seed),
))  # fmt: skip

"""The unified sample format (version 1): one JSON object per line of a ``.jsonl`` file, images beside it.

A record holds one training / evaluation sample of any task::

    {"version": 1, "id": "sw-train-000001", "task": "rec",
     "images": ["images/000001.png"], "image_sizes": [[W, H]],
     "prompt": "<image>\\nWhere is the small red circle?",
     "visual_prompts": [{"type": "box", "image": 0, "box": [x1, y1, x2, y2]}],
     "answer": "<p>small red circle</p><box><loc_..>…</box>",
     "targets": {"boxes": [[x1, y1, x2, y2]], ...},
     "meta": {...}}

Coordinate frames: ``targets`` and ``visual_prompts`` are in **pixels of the original image** (boxes xyxy,
masks COCO RLE with ``counts`` as str, points (x, y)). ``answer`` is model-facing text in the sequence grammar at
:data:`ANSWER_BINS` bins, normalised to the model frame. Image paths are relative to the ``.jsonl``'s folder.

Every ``from_json`` validates its input and raises ``ValueError(f"{where}: ...")`` naming the field and what
was expected, where ``where`` is typically ``"train.jsonl:line 12"``. See ``docs/format.md``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Iterator, Mapping

FORMAT_VERSION = 1
ANSWER_BINS = 1000
IMAGE_PLACEHOLDER = "<image>"
REGION_PLACEHOLDER = "<region>"
VISUAL_PROMPT_TYPES = ("box", "point", "mask")


# --- small validators (each names the field and what it expected) ---------------------------------------------
def _fail(where: str, msg: str) -> ValueError:
    return ValueError(f"{where}: {msg}")


def _number(v: Any, where: str, what: str) -> float:
    try:
        ok = not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
    except OverflowError:  # an integer too large for a float
        ok = False
    if not ok:
        raise _fail(where, f"{what} must be a finite number, got {v!r:.60}")
    return float(v)


def _numbers(v: Any, n: int, where: str, what: str) -> list[float]:
    if not isinstance(v, (list, tuple)) or len(v) != n:
        raise _fail(where, f"{what} must be a list of {n} numbers, got {v!r:.80}")
    return [_number(x, where, what) for x in v]


def _list(v: Any, where: str, what: str) -> list:
    if not isinstance(v, list):
        raise _fail(where, f"{what} must be a list, got {type(v).__name__}")
    return v


def _str(v: Any, where: str, what: str, allow_empty: bool = True) -> str:
    if not isinstance(v, str) or (not allow_empty and not v):
        raise _fail(where, f"{what} must be a {'' if allow_empty else 'non-empty '}string, got {v!r:.60}")
    return v


def _int(v: Any, where: str, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise _fail(where, f"{what} must be an integer, got {v!r:.60}")
    return v


def _box(v: Any, where: str, what: str) -> list[float]:
    b = _numbers(v, 4, where, f"{what} (xyxy)")
    if b[2] < b[0] or b[3] < b[1]:
        raise _fail(where, f"{what} must be xyxy with x2 >= x1 and y2 >= y1, got {b}")
    return b


def rle_runs(counts: str) -> list[int] | None:
    """The run lengths a COCO compressed RLE string encodes (pycocotools' ``rleFrString`` format: 5 bits per
    character from ``'0'``, a continuation bit, a sign bit, runs after the second stored as differences), or
    ``None`` if the string is not that format or gives a negative run. Nothing the size of the mask is allocated,
    so a garbage or oversized RLE is refused before decoding."""
    runs: list[int] = []
    x = k = 0
    more = False
    for ch in counts:
        c = ord(ch) - 48
        if not 0 <= c < 64 or k > 12:  # a character outside the alphabet, or a run longer than 64 bits
            return None
        x |= (c & 0x1F) << (5 * k)
        more = bool(c & 0x20)
        k += 1
        if not more:
            if c & 0x10:
                x |= -1 << (5 * k)
            if len(runs) > 2:
                x += runs[-2]
            if x < 0:
                return None
            runs.append(x)
            x = k = 0
    return None if more else runs


def check_rle(v: Any, where: str, what: str, hw: tuple[int, int] | None) -> dict[str, Any]:
    """A COCO RLE ``{"size": [H, W], "counts": str}``, checked without decoding it: ``hw`` is the image's (H, W)
    it must match, ``H × W`` is at most the image pixel limit and the counts must cover exactly ``H × W``
    pixels. Errors are ``ValueError(f"{where}: ...")`` naming ``what``."""
    if not isinstance(v, Mapping) or set(v) != {"size", "counts"}:
        raise _fail(where, f"{what} must be a COCO RLE {{'size': [H, W], 'counts': str}}, got {v!r:.80}")
    size = v["size"]
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size)):
        raise _fail(where, f"{what}.size must be [H, W] positive integers, got {size!r:.60}")
    if not isinstance(v["counts"], str) or not v["counts"]:
        raise _fail(where, f"{what}.counts must be a non-empty compressed RLE string, got {v['counts']!r:.60}")
    if hw is not None and tuple(size) != hw:
        raise _fail(where, f"{what}.size {size} does not match its image's [H, W] = {list(hw)}")
    _check_pixels(size[1], size[0], where, f"{what}.size")
    runs = rle_runs(v["counts"])
    if runs is None:
        raise _fail(where, f"{what}.counts is not a COCO compressed RLE string (got {v['counts']!r:.40})")
    if sum(runs) != size[0] * size[1]:
        raise _fail(where, f"{what}.counts cover {sum(runs)} pixels, but its size {size} has {size[0] * size[1]}")
    return {"size": list(size), "counts": v["counts"]}


_rle = check_rle


def _check_pixels(w: int, h: int, where: str, what: str) -> None:
    """Refuse an image (or mask) of ``w × h`` above the image pixel limit, before anything of that size exists."""
    from .images import MAX_PIXELS_ENV, default_max_pixels

    limit = default_max_pixels()
    if w * h > limit:
        raise _fail(where, f"{what} is {w}x{h} = {w * h} pixels, more than the limit of {limit} per image "
                           f"(${MAX_PIXELS_ENV} sets it)")  # fmt: skip


def _image_path(v: Any, where: str, what: str) -> str:
    """An image path relative to the records file's folder that stays inside it (no absolute path, no ``..``)."""
    path = _str(v, where, what, allow_empty=False)
    parts = PurePosixPath(path.replace("\\", "/")).parts
    if "\x00" in path or path.startswith(("/", "\\")) or (parts and ":" in parts[0]) or ".." in parts:
        raise _fail(where, f"{what} = {path[:120]!r} must be a path relative to the records file's folder that "
                           f"stays inside it (no absolute path, drive or '..')")  # fmt: skip
    return path


def _unknown_keys(obj: Mapping, known: Iterable[str], where: str, what: str) -> None:
    extra = sorted(set(obj) - set(known))
    if extra:
        raise _fail(where, f"{what} has unknown field(s) {extra}; expected only {sorted(known)}")


def _xy_list(v: Any, where: str, what: str) -> list[list[float]]:
    return [_numbers(p, 2, where, f"{what}[{i}]") for i, p in enumerate(_list(v, where, what))]


# --- the dataclasses ------------------------------------------------------------------------------------------
@dataclass
class VisualPrompt:
    """A region given in the prompt, referenced by a ``<region>`` placeholder, in original-image pixels.

    ``type`` is ``box`` (``box`` xyxy), ``point`` (``point`` (x, y)) or ``mask`` (``mask`` COCO RLE);
    ``image`` is the 0-based index of the image it lies on.
    """

    type: str
    image: int = 0
    box: list[float] | None = None
    point: list[float] | None = None
    mask: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, obj: Any, where: str, image_sizes: list[tuple[int, int]] | None = None) -> "VisualPrompt":
        if not isinstance(obj, Mapping):
            raise _fail(where, f"a visual prompt must be an object, got {type(obj).__name__}")
        kind = obj.get("type")
        if kind not in VISUAL_PROMPT_TYPES:
            raise _fail(where, f"visual prompt type must be one of {list(VISUAL_PROMPT_TYPES)}, got {kind!r}")
        _unknown_keys(obj, ("type", "image", kind), where, f"a {kind} visual prompt")
        if kind not in obj:
            raise _fail(where, f"a {kind} visual prompt needs a {kind!r} field")
        image = _int(obj.get("image", 0), where, "visual prompt image")
        hw = None
        if image_sizes is not None:
            if not 0 <= image < len(image_sizes):
                raise _fail(where, f"visual prompt image {image} out of range 0..{len(image_sizes) - 1}")
            hw = (image_sizes[image][1], image_sizes[image][0])
        vp = cls(kind, image)
        if kind == "box":
            vp.box = _box(obj["box"], where, "visual prompt box")
        elif kind == "point":
            vp.point = _numbers(obj["point"], 2, where, "visual prompt point")
        else:
            vp.mask = _rle(obj["mask"], where, "visual prompt mask", hw)
        return vp

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "image": self.image, self.type: getattr(self, self.type)}


@dataclass
class Targets:
    """Structured ground truth in original-image pixels. Every field is optional (``None`` = absent).

    Instance lists ``boxes`` (N×[x1, y1, x2, y2]), ``masks`` (N COCO RLEs), ``keypoints`` (N figures),
    ``labels`` (N phrases) and ``image_ids`` (N image indices) are parallel where more than one is given.
    For tasks that pick images without instances (``which_image``), ``image_ids`` are the picked images.
    ``points`` are (x, y); ``traces`` are ``{"xy": [[x, y], ...], "t": [seconds, ...]}``; ``answers`` are
    reference texts; ``words`` ground words of ``answers[0]`` by character offsets
    ``{"text", "start", "end", "point"?, "image"?, "trace"?}``.
    """

    boxes: list[list[float]] | None = None
    masks: list[dict[str, Any]] | None = None
    points: list[list[float]] | None = None
    traces: list[dict[str, Any]] | None = None
    keypoints: list[dict[str, Any]] | None = None
    image_ids: list[int] | None = None
    labels: list[str] | None = None
    answers: list[str] | None = None
    words: list[dict[str, Any]] | None = None

    FIELDS = ("boxes", "masks", "points", "traces", "keypoints", "image_ids", "labels", "answers", "words")
    INSTANCE_FIELDS = ("boxes", "masks", "keypoints", "labels")

    @classmethod
    def from_json(cls, obj: Any, where: str, image_sizes: list[tuple[int, int]] | None = None) -> "Targets":
        """Validate and build. ``image_sizes`` ((W, H) per image) enables the range and mask-size checks."""
        if obj is None:
            return cls()
        if not isinstance(obj, Mapping):
            raise _fail(where, f"targets must be an object, got {type(obj).__name__}")
        _unknown_keys(obj, cls.FIELDS, where, "targets")
        t = cls()
        n_images = len(image_sizes) if image_sizes is not None else None
        if "image_ids" in obj:
            t.image_ids = [_int(v, where, f"targets.image_ids[{i}]") for i, v in enumerate(_list(obj["image_ids"], where, "targets.image_ids"))]
            for i, k in enumerate(t.image_ids):
                if n_images is not None and not 0 <= k < n_images:
                    raise _fail(where, f"targets.image_ids[{i}] = {k} is out of range 0..{n_images - 1}")
        if "boxes" in obj:
            t.boxes = [_box(b, where, f"targets.boxes[{i}]") for i, b in enumerate(_list(obj["boxes"], where, "targets.boxes"))]
        if "masks" in obj:
            masks = _list(obj["masks"], where, "targets.masks")
            t.masks = []
            for i, m in enumerate(masks):
                hw = None
                if image_sizes is not None:
                    k = t.image_ids[i] if t.image_ids is not None and i < len(t.image_ids) else 0
                    hw = (image_sizes[k][1], image_sizes[k][0])
                t.masks.append(_rle(m, where, f"targets.masks[{i}]", hw))
        if "points" in obj:
            t.points = _xy_list(obj["points"], where, "targets.points")
        if "traces" in obj:
            t.traces = [_trace(tr, where, f"targets.traces[{i}]") for i, tr in enumerate(_list(obj["traces"], where, "targets.traces"))]
        if "keypoints" in obj:
            t.keypoints = [_keypoints(k, where, f"targets.keypoints[{i}]") for i, k in enumerate(_list(obj["keypoints"], where, "targets.keypoints"))]
        for name in ("labels", "answers"):
            if name in obj:
                vals = _list(obj[name], where, f"targets.{name}")
                setattr(t, name, [_str(v, where, f"targets.{name}[{i}]") for i, v in enumerate(vals)])
        if "words" in obj:
            ref = t.answers[0] if t.answers else None
            t.words = [_word(w, where, f"targets.words[{i}]", ref, n_images) for i, w in enumerate(_list(obj["words"], where, "targets.words"))]
        t._check_parallel(where)
        return t

    def _check_parallel(self, where: str) -> None:
        given = {k: len(getattr(self, k)) for k in self.INSTANCE_FIELDS if getattr(self, k)}
        if len(set(given.values())) > 1:
            raise _fail(where, f"targets instance lists must have equal lengths, got {given}")
        if given and self.image_ids is not None and len(self.image_ids) != next(iter(given.values())):
            raise _fail(
                where,
                f"targets.image_ids has {len(self.image_ids)} entries but there are {next(iter(given.values()))} "
                f"instances ({', '.join(given)}); expected one image index per instance",
            )

    def num_instances(self) -> int:
        """N: the length of the instance lists (0 when none is given)."""
        return max((len(getattr(self, k)) for k in self.INSTANCE_FIELDS if getattr(self, k)), default=0)

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.FIELDS if getattr(self, k) is not None}


def _trace(v: Any, where: str, what: str) -> dict[str, Any]:
    if not isinstance(v, Mapping) or set(v) != {"xy", "t"}:
        raise _fail(where, f"{what} must be {{'xy': [[x, y], ...], 't': [seconds, ...]}}, got {v!r:.80}")
    xy = _xy_list(v["xy"], where, f"{what}.xy")
    t = [_number(s, where, f"{what}.t") for s in _list(v["t"], where, f"{what}.t")]
    if len(t) != len(xy):
        raise _fail(where, f"{what} has {len(xy)} points but {len(t)} times; expected one time per point")
    if any(b < a for a, b in zip(t, t[1:])):
        raise _fail(where, f"{what}.t must not decrease")
    return {"xy": xy, "t": t}


def _keypoints(v: Any, where: str, what: str) -> dict[str, Any]:
    if not isinstance(v, Mapping) or set(v) != {"names", "xy", "visibility"}:
        raise _fail(where, f"{what} must be {{'names': [...], 'xy': [[x, y], ...], 'visibility': [0|1|2, ...]}}")
    names = [_str(n, where, f"{what}.names", allow_empty=False) for n in _list(v["names"], where, f"{what}.names")]
    xy = _xy_list(v["xy"], where, f"{what}.xy")
    vis = [_int(x, where, f"{what}.visibility") for x in _list(v["visibility"], where, f"{what}.visibility")]
    if not len(names) == len(xy) == len(vis):
        raise _fail(where, f"{what} needs as many names, xy and visibility; got {len(names)}, {len(xy)}, {len(vis)}")
    if len(set(names)) != len(names):
        raise _fail(where, f"{what}.names must be unique, got {names}")
    if any(x not in (0, 1, 2) for x in vis):
        raise _fail(where, f"{what}.visibility must be 0, 1 or 2 (COCO), got {vis}")
    return {"names": names, "xy": xy, "visibility": vis}


def _word(v: Any, where: str, what: str, ref: str | None, n_images: int | None) -> dict[str, Any]:
    if not isinstance(v, Mapping):
        raise _fail(where, f"{what} must be an object, got {type(v).__name__}")
    _unknown_keys(v, ("text", "start", "end", "point", "image", "trace"), where, what)
    for k in ("text", "start", "end"):
        if k not in v:
            raise _fail(where, f"{what} needs {k!r}")
    out: dict[str, Any] = {
        "text": _str(v["text"], where, f"{what}.text", allow_empty=False),
        "start": _int(v["start"], where, f"{what}.start"),
        "end": _int(v["end"], where, f"{what}.end"),
    }
    if not 0 <= out["start"] <= out["end"]:
        raise _fail(where, f"{what} needs 0 <= start <= end, got {out['start']}, {out['end']}")
    if ref is not None and ref[out["start"] : out["end"]] != out["text"]:
        raise _fail(
            where,
            f"{what}.text {out['text']!r} does not match answers[0][{out['start']}:{out['end']}] = "
            f"{ref[out['start']:out['end']]!r}",
        )
    if "point" in v:
        out["point"] = _numbers(v["point"], 2, where, f"{what}.point")
    if "image" in v:
        out["image"] = _int(v["image"], where, f"{what}.image")
        if n_images is not None and not 0 <= out["image"] < n_images:
            raise _fail(where, f"{what}.image = {out['image']} is out of range 0..{n_images - 1}")
    if "trace" in v:
        out["trace"] = _trace(v["trace"], where, f"{what}.trace")
    return out


RECORD_FIELDS = ("version", "id", "task", "images", "image_sizes", "prompt", "visual_prompts", "answer", "targets", "meta")


@dataclass
class Record:
    """One sample. ``image_sizes`` are (width, height) per image; ``root`` (not serialised) is the folder image
    paths are relative to (set by :func:`read_records`)."""

    id: str
    task: str
    images: list[str]
    image_sizes: list[tuple[int, int]]
    prompt: str
    answer: str = ""
    targets: Targets = field(default_factory=Targets)
    visual_prompts: list[VisualPrompt] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    version: int = FORMAT_VERSION
    root: Path | None = field(default=None, compare=False, repr=False)
    source: str | None = field(default=None, compare=False, repr=False)  # "file:line N" it was read from

    def __post_init__(self) -> None:
        self.image_sizes = [(int(w), int(h)) for w, h in self.image_sizes]

    @classmethod
    def from_json(cls, obj: Any, where: str = "record") -> "Record":
        """Validate a decoded JSON object and build a record; errors are ``ValueError(f"{where}: ...")``."""
        if not isinstance(obj, Mapping):
            raise _fail(where, f"a record must be a JSON object, got {type(obj).__name__}")
        _unknown_keys(obj, RECORD_FIELDS, where, "record")
        for k in ("version", "id", "task", "images", "image_sizes", "prompt"):
            if k not in obj:
                raise _fail(where, f"record is missing the required field {k!r}")
        if obj["version"] != FORMAT_VERSION:
            raise _fail(where, f"unsupported record version {obj['version']!r}; this reader knows version {FORMAT_VERSION}")
        rid = _str(obj["id"], where, "id", allow_empty=False)
        where = f"{where} (id {rid})"
        task = _str(obj["task"], where, "task", allow_empty=False)
        images = [_image_path(p, where, f"images[{i}]") for i, p in enumerate(_list(obj["images"], where, "images"))]
        sizes = []
        for i, s in enumerate(_list(obj["image_sizes"], where, "image_sizes")):
            if not (isinstance(s, list) and len(s) == 2 and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in s)):
                raise _fail(where, f"image_sizes[{i}] must be [width, height] positive integers, got {s!r:.60}")
            _check_pixels(s[0], s[1], where, f"image_sizes[{i}]")
            sizes.append((s[0], s[1]))
        if len(sizes) != len(images):
            raise _fail(where, f"image_sizes has {len(sizes)} entries for {len(images)} images; expected one (W, H) per image")
        prompt = _str(obj["prompt"], where, "prompt")
        n_ph = prompt.count(IMAGE_PLACEHOLDER)
        if n_ph != len(images):
            raise _fail(where, f"prompt has {n_ph} {IMAGE_PLACEHOLDER} placeholder(s) for {len(images)} image(s); expected one per image")
        vps = [
            VisualPrompt.from_json(v, f"{where} visual_prompts[{i}]", sizes)
            for i, v in enumerate(_list(obj.get("visual_prompts", []), where, "visual_prompts"))
        ]
        n_reg = prompt.count(REGION_PLACEHOLDER)
        if n_reg != len(vps):
            raise _fail(where, f"prompt has {n_reg} {REGION_PLACEHOLDER} placeholder(s) for {len(vps)} visual prompt(s); expected one per visual prompt")
        meta = obj.get("meta", {})
        if not isinstance(meta, dict):
            raise _fail(where, f"meta must be an object, got {type(meta).__name__}")
        return cls(
            id=rid,
            task=task,
            images=images,
            image_sizes=sizes,
            prompt=prompt,
            answer=_str(obj.get("answer", ""), where, "answer"),
            targets=Targets.from_json(obj.get("targets"), where, sizes),
            visual_prompts=vps,
            meta=meta,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version": self.version,
            "id": self.id,
            "task": self.task,
            "images": list(self.images),
            "image_sizes": [[w, h] for w, h in self.image_sizes],
            "prompt": self.prompt,
        }
        if self.visual_prompts:
            out["visual_prompts"] = [v.to_json() for v in self.visual_prompts]
        out["answer"] = self.answer
        out["targets"] = self.targets.to_json()
        if self.meta:
            out["meta"] = self.meta
        return out

    def validate(self, where: str = "record") -> "Record":
        """Re-run every check on this (possibly hand-built) record; returns a validated copy."""
        out = Record.from_json(self.to_json(), where)
        out.root, out.source = self.root, self.source
        return out

    def image_paths(self) -> list[Path]:
        """Image paths resolved against ``root`` (the ``.jsonl``'s folder); relative if ``root`` is unset."""
        base = self.root or Path()
        return [base / p for p in self.images]

    def check_images(self, missing_ok: bool = False) -> None:
        """Check each image file from its header only: it exists (``missing_ok``: a missing one is passed over),
        is a readable image within the pixel limit and has the size ``image_sizes`` gives (its targets are in
        that frame). Raises ``ValueError`` (or ``FileNotFoundError``) naming the record's ``source`` (file:line),
        its id and the image."""
        from .images import open_image

        where = f"{self.source or 'record'} (id {self.id})"
        for i, path in enumerate(self.image_paths()):
            what = f"{where} images[{i}] = {self.images[i][:120]!r}"
            if missing_ok and not path.exists():
                continue
            with open_image(path, what) as im:
                size = im.size
            if tuple(size) != tuple(self.image_sizes[i]):
                raise _fail(what, f"the image is {size[0]}x{size[1]} pixels but image_sizes[{i}] says "
                                  f"{self.image_sizes[i][0]}x{self.image_sizes[i][1]}; its targets would be in the "
                                  f"wrong frame")  # fmt: skip


def read_records(path: str | Path) -> Iterator[Record]:
    """Stream records from one ``.jsonl`` file (blank lines skipped), with ``root`` set to its folder and
    ``source`` to ``"file:line N"``.

    Raises ``ValueError("file.jsonl:line N: ...")`` on the first malformed line, or the first id that repeats an
    earlier line's (ids must be unique within a file: scores and predictions are matched by id).
    """
    from .jsonl import iter_jsonl

    path = Path(path)
    seen: dict[str, str] = {}
    for where, obj in iter_jsonl(path, "records file"):
        rec = Record.from_json(obj, where)
        if rec.id in seen:
            raise _fail(where, f"the id {rec.id!r} repeats that of {seen[rec.id].rsplit(':', 1)[-1]}; "
                               f"ids must be unique within a file")  # fmt: skip
        seen[rec.id] = where
        rec.root = path.parent
        rec.source = where
        yield rec


def write_records(path: str | Path, records: Iterable[Record]) -> int:
    """Write records as JSON Lines (validating each first), atomically: a bad record or a kill midway leaves any
    earlier file of that name as it was. Returns how many were written."""
    from ..atomic import atomic_write

    path = Path(path)
    n = 0
    with atomic_write(path) as fh:
        for rec in records:
            rec.validate(f"{path}: record {n} (id {getattr(rec, 'id', '?')})")
            fh.write(json.dumps(rec.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n")
            n += 1
    return n

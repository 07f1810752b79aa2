"""What every converter shares: the :class:`Converter` entry, the :class:`Conversion` it returns, the
:data:`CONVERTERS` registry, and small readers that turn bad source files into clear errors.

A converter reads one public annotation format and yields unified :class:`~vistakit.data.record.Record`s whose
``targets`` are in **pixels of the original image** and whose ``answer`` is built by the task object
(``get_task(task).build_answer``) — converters never format location tokens themselves.
"""

from __future__ import annotations

import argparse
import json
import random
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable, Mapping, Sequence

from ...registry import Registry
from ..record import ANSWER_BINS, Record, Targets, VisualPrompt


@dataclass
class Conversion:
    """The output of one converter run.

    ``splits``: split name → records. ``image_sources``: record image path (relative to the output folder, e.g.
    ``images/000000397133.jpg``) → the source file to link or copy there (``None`` when the source image is not
    available). ``skipped``: reason → how many source items were left out. ``source``: a short description of
    the source for ``dataset.json``. ``counts``: what was read from the source (e.g. ``{"annotations": 1363}``).
    """

    source: str
    splits: dict[str, list[Record]] = field(default_factory=dict)
    image_sources: dict[str, Path | None] = field(default_factory=dict)
    skipped: Counter = field(default_factory=Counter)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, split: str, record: Record) -> None:
        self.splits.setdefault(split, []).append(record)

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] += n

    def num_records(self) -> int:
        return sum(len(v) for v in self.splits.values())

    def tasks(self) -> dict[str, int]:
        """Task name → number of records over all splits."""
        return dict(Counter(r.task for recs in self.splits.values() for r in recs))


@dataclass(frozen=True)
class Converter:
    """One registered source format: ``add_arguments`` adds its own command-line options (names unique across
    converters) to an argument group; ``from_args`` runs the conversion from parsed arguments (the shared ones
    are ``annotations``, ``images``, ``split``, ``limit``, ``seed``)."""

    name: str
    help: str
    from_args: Callable[[argparse.Namespace], Conversion]
    add_arguments: Callable[[Any], None] | None = None


CONVERTERS: Registry[Converter] = Registry("converter")


def register_converter(conv: Converter) -> Converter:
    CONVERTERS.add(conv.name, conv)
    return conv


def get_converter(name: str) -> Converter:
    """The converter for source format ``name``; an unknown name raises ``KeyError`` listing the known ones."""
    from . import _load_all

    _load_all()
    return CONVERTERS.get(name)


# --- reading sources with clear errors ------------------------------------------------------------------
def require_file(path: str | Path | None, what: str) -> Path:
    """``path`` as a Path that exists as a file, else ``FileNotFoundError`` naming ``what``."""
    if path is None:
        raise ValueError(f"{what} is required (give it with the matching --option)")
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{what} not found: {p}")
    return p


def require_dir(path: str | Path | None, what: str) -> Path | None:
    """``path`` as an existing directory (``None`` passes through), else ``FileNotFoundError``."""
    if path is None:
        return None
    p = Path(path)
    if not p.is_dir():
        raise FileNotFoundError(f"{what} is not a directory: {p}")
    return p


def load_json(path: str | Path, what: str) -> Any:
    """Parse a JSON file; malformed JSON → ``ValueError`` naming the file, line and column."""
    p = require_file(path, what)
    try:
        with p.open(encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{p}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start}); expected a JSON file") from None


def load_json_member(path: Path, member_name: str, what: str) -> Any:
    """JSON from ``path`` itself, or — when ``path`` is a .zip — from the (single) member whose file name is
    ``member_name`` at any depth (the Visual Genome downloads nest ``x.json.zip/x.json``)."""
    if not zipfile.is_zipfile(path):
        return load_json(path, what)
    with zipfile.ZipFile(path) as zf:
        hits = [n for n in zf.namelist() if n.rsplit("/", 1)[-1] == member_name]
        if len(hits) != 1:
            raise ValueError(f"{path}: expected exactly one {member_name!r} inside the zip, found {len(hits)}")
        try:
            return json.loads(zf.read(hits[0]).decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}!{hits[0]}: not valid JSON ({exc})") from None


def get_field(obj: Any, key: str, types: type | tuple[type, ...], where: str) -> Any:
    """``obj[key]`` checked to be of ``types``; a missing key or wrong type → ``ValueError`` naming ``where``."""
    if not isinstance(obj, Mapping):
        raise ValueError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    if key not in obj:
        raise ValueError(f"{where}: missing field {key!r}")
    val = obj[key]
    ok = isinstance(val, types) and not (isinstance(val, bool) and bool not in _as_tuple(types))
    if not ok:
        names = "/".join(t.__name__ for t in _as_tuple(types))
        raise ValueError(f"{where}: field {key!r} must be {names}, got {type(val).__name__} {val!r:.60}")
    return val


def _as_tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def image_size_from_file(path: Path) -> tuple[int, int]:
    """(width, height) from the image header (Pillow opens lazily; pixels are not decoded), upright: swapped when
    the EXIF orientation turns the image a quarter, as the model reads it (``vistakit.model.processor``)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            w, h = int(im.size[0]), int(im.size[1])
            quarter_turn = im.getexif().get(0x0112) in (5, 6, 7, 8)  # tag 0x0112: Orientation
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"{path}: cannot read the image header ({exc})") from None
    return (h, w) if quarter_turn else (w, h)


def find_image(images_dir: Path | None, rel: str) -> Path | None:
    """``images_dir / rel`` if it is a file, else ``images_dir / basename(rel)``, else ``None``."""
    if images_dir is None:
        return None
    for cand in (images_dir / rel, images_dir / Path(rel).name):
        if cand.is_file():
            return cand
    return None


def xywh_to_xyxy(box: Sequence[float], size: tuple[int, int]) -> list[float] | None:
    """COCO-style ``[x, y, w, h]`` → xyxy clipped to the (W, H) image (rounded to 1/1000 pixel); ``None`` if
    nothing of it is left."""
    x, y, w, h = (float(v) for v in box)
    W, H = size
    x1, y1 = min(max(x, 0.0), W), min(max(y, 0.0), H)
    x2, y2 = min(max(x + w, 0.0), W), min(max(y + h, 0.0), H)
    if x2 <= x1 or y2 <= y1:
        return None
    return [round(x1, 3), round(y1, 3), round(x2, 3), round(y2, 3)]


# --- building records through the task objects ---------------------------------------------------------
class RecordBuilder:
    """Builds validated records: prompts from the task's templates (seeded), answers by ``task.build_answer``.

    ``grammar`` is the answer grammar at :data:`ANSWER_BINS` bins.
    """

    def __init__(self, seed: int = 0, bins: int = ANSWER_BINS) -> None:
        from ...geometry import SequenceGrammar

        self.rng = random.Random(seed)
        self.grammar = SequenceGrammar(bins)

    def build(
        self,
        task: str,
        rid: str,
        images: list[str],
        image_sizes: list[tuple[int, int]],
        targets: Targets,
        *,
        slots: Mapping[str, Any] | None = None,
        prompt: str | None = None,
        visual_prompts: list[VisualPrompt] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Record:
        """A record of ``task``; ``prompt`` (with its ``<image>`` placeholders) overrides the task templates."""
        from ...tasks import get_task

        t = get_task(task)
        if prompt is None:
            prompt = t.make_prompt(self.rng, n_images=len(images), **dict(slots or {}))
        answer = t.build_answer(targets, image_sizes, self.grammar)
        rec = Record(
            id=rid,
            task=task,
            images=images,
            image_sizes=image_sizes,
            prompt=prompt,
            answer=answer,
            targets=targets,
            visual_prompts=list(visual_prompts or []),
            meta=dict(meta or {}),
        )
        return rec.validate(f"record {rid}")

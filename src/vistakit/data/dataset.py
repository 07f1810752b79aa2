"""A streaming dataset over record files, and the writer of a dataset folder.

A dataset folder holds ``*.jsonl`` record files (one per split, e.g. ``train.jsonl``), the ``images/`` they
reference (paths relative to the folder) and ``dataset.json``::

    {"format": "vistakit", "version": 1, "bins": 1000, "source": "...",
     "splits": {"train": N, ...}, "tasks": {"train": {"rec": n, ...}, ...}}

:class:`RecordDataset` reads records lazily, file by file and line by line (nothing is held in memory), checks
that ids are unique within each file, and sets each record's ``root`` so ``record.image_paths()`` resolves.
It is a plain iterable: wrap it in ``torch.utils.data.IterableDataset`` where a loader needs one, sharding
with ``shard=(index, count)``.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from .record import ANSWER_BINS, FORMAT_VERSION, Record, read_records, write_records

DATASET_FILE = "dataset.json"
DATASET_FORMAT = "vistakit"


def record_files(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    """The ``.jsonl`` files named by ``paths``: files as given, folders expanded to their sorted ``*.jsonl``."""
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(p.glob("*.jsonl"))
            if not found:
                raise FileNotFoundError(f"no *.jsonl record files in the folder {p}")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(f"no such record file or folder: {p}")
    if not out:
        raise ValueError("no record files given; expected one or more .jsonl files or dataset folders")
    return out


class RecordDataset:
    """Records streamed from one or more ``.jsonl`` files (or dataset folders), multi-image records included.

    ``tasks``: keep only records of these task names. ``shard=(i, n)``: keep every n-th record starting at i
    (for data-parallel workers). ``check_images``: raise ``FileNotFoundError`` naming the record when an image
    file is missing. Malformed lines raise ``ValueError("file.jsonl:line N: ...")``.
    """

    def __init__(
        self,
        paths: str | Path | Sequence[str | Path],
        tasks: Sequence[str] | None = None,
        shard: tuple[int, int] = (0, 1),
        check_images: bool = False,
    ) -> None:
        self.files = record_files(paths)
        self.tasks = frozenset(tasks) if tasks is not None else None
        index, count = shard
        if not (isinstance(count, int) and count >= 1 and isinstance(index, int) and 0 <= index < count):
            raise ValueError(f"shard must be (index, count) with 0 <= index < count, got {shard!r}")
        self.shard = (index, count)
        self.check_images = check_images

    def __iter__(self) -> Iterator[Record]:
        index, count = self.shard
        n = 0
        for path in self.files:
            for rec in read_records(path):  # refuses a repeated id, naming both lines
                if self.tasks is not None and rec.task not in self.tasks:
                    continue
                if n % count == index:
                    if self.check_images:
                        for p in rec.image_paths():
                            if not p.is_file():
                                raise FileNotFoundError(f"{path}: record {rec.id!r} names a missing image {p}")
                    yield rec
                n += 1

    def count(self) -> int:
        """How many records this dataset yields (reads every file once)."""
        return sum(1 for _ in self)


def write_dataset(
    out_dir: str | Path,
    records_by_split: Mapping[str, Iterable[Record]],
    source: str,
    bins: int = ANSWER_BINS,
) -> dict[str, Any]:
    """Write ``<split>.jsonl`` for each split and ``dataset.json``; returns the ``dataset.json`` content.

    Images must already be in ``out_dir`` (records name them relative to it). Ids must be unique per split.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    splits: dict[str, int] = {}
    tasks: dict[str, dict[str, int]] = {}
    for split, records in records_by_split.items():
        if not split or "/" in split or split.startswith("."):
            raise ValueError(f"split names must be plain file stems like 'train', got {split!r}")
        counter: Counter[str] = Counter()
        ids: set[str] = set()

        def counted(recs: Iterable[Record]) -> Iterator[Record]:
            for rec in recs:
                if rec.id in ids:
                    raise ValueError(f"split {split!r}: the id {rec.id!r} appears twice; ids must be unique per split")
                ids.add(rec.id)
                counter[rec.task] += 1
                yield rec

        splits[split] = write_records(out_dir / f"{split}.jsonl", counted(records))
        tasks[split] = dict(sorted(counter.items()))
    info = {"format": DATASET_FORMAT, "version": FORMAT_VERSION, "bins": bins, "source": source,
            "splits": splits, "tasks": tasks}  # fmt: skip
    (out_dir / DATASET_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return info


def read_dataset_info(folder: str | Path) -> dict[str, Any]:
    """Read and check a folder's ``dataset.json`` (format, version, bins, splits)."""
    path = Path(folder) / DATASET_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is not a vistakit dataset folder: no {DATASET_FILE}")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(info, dict) or info.get("format") != DATASET_FORMAT:
        raise ValueError(f"{path}: expected an object with format {DATASET_FORMAT!r}")
    if info.get("version") != FORMAT_VERSION:
        raise ValueError(f"{path}: unsupported version {info.get('version')!r}; this reader knows {FORMAT_VERSION}")
    if not isinstance(info.get("bins"), int) or info["bins"] < 2:
        raise ValueError(f"{path}: bins must be an integer >= 2, got {info.get('bins')!r}")
    if not isinstance(info.get("splits"), dict):
        raise ValueError(f"{path}: splits must be an object {{split: count}}, got {info.get('splits')!r}")
    return info

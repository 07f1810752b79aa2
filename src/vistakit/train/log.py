"""The run log: one JSON object per line in ``OUT/train/log.jsonl`` plus the same scalars in TensorBoard.

Every entry has ``kind`` (``train``, ``val`` or ``metric``) and ``step`` (optimizer steps done); ``train``
entries add ``loss``, ``lr``, ``grad_norm``, ``samples_per_s`` and the batch ``fingerprint``; ``val`` entries
``loss``; ``metric`` entries ``task``, ``metric`` and ``value``. On resume, entries past the resumed step (written
after the last checkpoint by the interrupted run) are dropped so the log reads as one uninterrupted run; that
rewrite is atomic (:mod:`vistakit.atomic`), so a kill during it leaves the old log whole.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterator

from ..atomic import atomic_write_text

AUX_LOSSES = ("grounding_loss", "anchor_loss", "relation_loss", "region_text_loss", "attribute_loss", "location_loss", "mask_loss")  # model-output losses logged (and plotted) beside the loss


class RunLog:
    """Append-only JSONL log with an optional TensorBoard writer (``tensorboard=False`` skips it)."""

    def __init__(self, folder: str | Path, tensorboard: bool = True, resume_step: int | None = None) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / "log.jsonl"
        if resume_step is None:
            self.path.write_text("", encoding="utf-8")
        elif self.path.exists():  # rewritten atomically: a kill here leaves the old log whole, never an empty one
            kept = [e for e in read_log(self.path) if e.get("step", 0) <= resume_step]
            atomic_write_text(self.path, "".join(json.dumps(e) + "\n" for e in kept))
        self._fh = self.path.open("a", encoding="utf-8")
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(self.folder / "tensorboard"), purge_step=resume_step)

    def write(self, kind: str, step: int, **values: Any) -> dict[str, Any]:
        entry = {"kind": kind, "step": int(step), **values}
        self._fh.write(json.dumps(entry, allow_nan=True) + "\n")
        self._fh.flush()
        if self._tb is not None:
            if kind == "metric":
                scalars = {f"metric/{values.get('task')}/{values.get('metric')}": values.get("value")}
            else:
                scalars = {f"{kind}/{k}": v for k, v in values.items()}
            for tag, v in scalars.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                    self._tb.add_scalar(tag, v, step)
        return entry

    def close(self) -> None:
        self._fh.close()
        if self._tb is not None:
            self._tb.close()

    def __enter__(self) -> "RunLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_log(path: str | Path) -> Iterator[dict[str, Any]]:
    """The entries of a ``log.jsonl``; a torn last line (a crash mid-write) is skipped, other bad lines raise
    ``ValueError`` naming the line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no training log at {path}")
    lines = path.read_text(encoding="utf-8").splitlines()
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            if lineno == len(lines):
                return
            raise ValueError(f"{path}:line {lineno}: not valid JSON ({exc.msg})") from None
        if not isinstance(entry, dict) or "kind" not in entry or "step" not in entry:
            raise ValueError(f"{path}:line {lineno}: expected an object with 'kind' and 'step'")
        yield entry

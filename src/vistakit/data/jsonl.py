"""Reading JSON Lines with errors that name the file and line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator


def iter_jsonl(path: str | Path, what: str = "JSON Lines file") -> Iterator[tuple[str, Any]]:
    """``(where, value)`` for each non-blank line of ``path``; ``where`` is ``"file:line N"``.

    A missing file raises ``FileNotFoundError`` naming ``what``; a line that is not JSON raises
    ``ValueError("file:line N: not valid JSON (...)")``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such {what}: {path}")
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:line {lineno}"
            try:
                yield where, json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None

"""Reading JSON Lines with errors that name the file and line.

Every way a line can be bad is one ``ValueError("file:line N: ...")``, never a traceback from deep inside the
parser: not UTF-8 text, not JSON, nested deeper than :data:`MAX_DEPTH` (Python's parser would otherwise raise
``RecursionError``, and later code walking the value could too), or an integer longer than
:data:`MAX_INT_DIGITS` digits (Python refuses past 4,300 digits with a message that names no line; anything near
that is no sample's value, and turning it into a float would overflow).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

MAX_DEPTH = 64  # nested lists/objects; a record needs fewer than 10
MAX_INT_DIGITS = 30  # 64-bit ids and millisecond timestamps have at most 20


def _parse_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {digits} digits; at most {MAX_INT_DIGITS} are accepted")
    return int(text)


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (iteratively: no recursion limit to hit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (list, dict)):
            deepest = max(deepest, d)
            if d <= MAX_DEPTH:  # no need to look further below the limit
                stack.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return deepest


def loads_line(text: str, where: str) -> Any:
    """One JSON value from ``text``; every problem a ``ValueError`` starting with ``where``."""
    try:
        value = json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise ValueError(f"{where}: the JSON nests deeper than this reader allows ({MAX_DEPTH} levels)") from None
    except ValueError as exc:  # _parse_int's refusal
        raise ValueError(f"{where}: {exc}") from None
    if _depth(value) > MAX_DEPTH:
        raise ValueError(f"{where}: the JSON nests deeper than this reader allows ({MAX_DEPTH} levels)")
    return value


def iter_jsonl(path: str | Path, what: str = "JSON Lines file") -> Iterator[tuple[str, Any]]:
    """``(where, value)`` for each non-blank line of ``path``; ``where`` is ``"file:line N"``.

    A missing file raises ``FileNotFoundError`` naming ``what``; a bad line (see the module docstring) raises
    ``ValueError("file:line N: ...")``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such {what}: {path}")
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            where = f"{path}:line {lineno}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValueError(f"{where}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
                                 f"expected a UTF-8 encoded JSON object per line") from None  # fmt: skip
            if lineno == 1 and line.startswith("\ufeff"):  # a byte-order mark some editors write
                line = line[1:]
            if not line.strip():
                continue
            yield where, loads_line(line, where)

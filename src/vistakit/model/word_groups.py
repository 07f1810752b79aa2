"""Word groups for the attribute heads and the tower's pre-training: named groups of words that label an object
("shape": circle, square, …). Nothing here knows a data set's words: they come from a JSON file ``{group:
[words]}`` or, opt in, from a named recipe vocabulary (``shapesworld``: ShapesWorld's shape, colour and size
words, read from the data generator). No torch, no model: the config validates a vocabulary by loading it here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

WordGroups = dict[str, tuple[str, ...]]


def _shapesworld() -> WordGroups:
    from ..data.shapesworld import COLOURS, SHAPES, SIZES

    return {"shape": tuple(SHAPES), "colour": tuple(COLOURS), "size": tuple(SIZES)}


# Recipe vocabularies a setting may name instead of a file (opt in: no general default names one).
NAMED_VOCABULARIES: dict[str, Callable[[], WordGroups]] = {"shapesworld": _shapesworld}


def load_vocab(spec: str, setting: str = "vocab") -> WordGroups:
    """Word groups by name: a path to a JSON file mapping each group to its list of words (lower case; a word in
    at most one group) or a recipe vocabulary of :data:`NAMED_VOCABULARIES` (``shapesworld``). ``setting``: the
    setting's name for error messages."""
    names = " or ".join(repr(n) for n in NAMED_VOCABULARIES)
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"{setting} is not set: give a JSON file of word groups {{group: [word, ...]}} (or {names} "
                         f"for that recipe's words)")  # fmt: skip
    if spec in NAMED_VOCABULARIES:
        return NAMED_VOCABULARIES[spec]()
    path = Path(spec)
    if not path.is_file():
        raise FileNotFoundError(f"{setting} must be {names} or a JSON file of word groups, got {spec!r} (no such file)")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if (
        not isinstance(obj, dict)
        or not obj
        or not all(
            isinstance(v, list) and len(v) >= 2 and all(isinstance(w, str) and w.strip() for w in v)
            for v in obj.values()
        )
    ):
        raise ValueError(f"{path}: expected {{group: [word, word, ...]}} with at least two words per group")
    groups = {str(k): tuple(w.strip().lower() for w in v) for k, v in obj.items()}
    seen: dict[str, str] = {}
    for g, words in groups.items():
        for w in words:
            if w in seen and seen[w] != g:
                raise ValueError(f"{path}: the word {w!r} is in two groups ({seen[w]!r} and {g!r})")
            seen[w] = g
    return groups

"""Check a decoded ``config.json`` section against its dataclass's annotations before anything is built from it.

``ModelConfig.from_dict`` (:mod:`.config`) runs :func:`check_fields` on every section, so a hand-edited or
damaged checkpoint config fails with one line naming the key, the value and the expected type — ``lm.layers:
4.0`` is refused (an integer is expected), not turned into a ``TypeError`` deep inside ``torch.nn`` — and a
missing key is named instead of being filled in silently with today's default (which may not be what the
weights were trained with). Range checks (positive sizes, known kinds) stay in each section's ``validate``.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Union


def _type_name(tp: Any) -> str:
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string", type(None): "null"}
    if tp in names:
        return names[tp]
    origin = typing.get_origin(tp)
    if origin is tuple:
        return f"a list of {len(args)} numbers" if args and args[-1] is not Ellipsis else "a list of numbers"
    if origin is dict:
        return "an object"
    if origin is list:
        return "a list"
    return getattr(tp, "__name__", str(tp))


def _matches(value: Any, tp: Any) -> bool:
    """Whether a JSON value fits the annotation ``tp`` (int is not bool; a float field takes an integer too)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if tp is Any:
        return True
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if tp is str:
        return isinstance(value, str)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            return False
        if args and args[-1] is Ellipsis:
            return all(_matches(v, args[0]) for v in value)
        return len(value) == len(args) and all(_matches(v, a) for v, a in zip(value, args))
    if origin is list:
        return isinstance(value, list) and (not args or all(_matches(v, args[0]) for v in value))
    if origin is dict:
        if not isinstance(value, dict):
            return False
        key_tp, value_tp = args if args else (Any, Any)
        return all(_matches(k, key_tp) and _matches(v, value_tp) for k, v in value.items())
    return True  # an annotation this checker does not know: left to the section's validate()


def _missing(cls: type, obj: dict[str, Any], prefix: str) -> list[str]:
    """Every field of ``cls`` (and of its sections present as objects) that ``obj`` lacks, as dotted keys."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if f.name not in obj:
            out.append(prefix + f.name)
        elif dataclasses.is_dataclass(hints[f.name]) and isinstance(obj[f.name], dict):
            out.extend(_missing(hints[f.name], obj[f.name], f"{prefix}{f.name}."))
    return out


def check_fields(cls: type, obj: Any, where: str, prefix: str = "") -> None:
    """Raise ``ValueError`` naming the key if ``obj`` lacks a field of the dataclass ``cls`` or holds a value whose
    JSON type does not fit the field's annotation; nested dataclass sections are checked the same way (their keys
    named ``section.field``). Unknown keys are left to the caller."""
    if not isinstance(obj, dict):
        raise ValueError(f"{where}: {prefix.rstrip('.') or 'the config'} must be a JSON object, "
                         f"got {type(obj).__name__}")  # fmt: skip
    hints = typing.get_type_hints(cls)
    missing = _missing(cls, obj, prefix) if not prefix else []
    if missing:
        raise ValueError(f"{where} is missing the key(s) {missing}; a checkpoint's config.json must give every "
                         f"field (add them with the values the model was trained with)")  # fmt: skip
    for name, value in obj.items():
        tp = hints.get(name)
        if tp is None:
            continue
        if dataclasses.is_dataclass(tp):
            check_fields(tp, value, where, f"{prefix}{name}.")
        elif not _matches(value, tp):
            got = "null" if value is None else type(value).__name__
            raise ValueError(f"{where}: {prefix}{name} = {value!r:.60} must be {_type_name(tp)}, not {got}")

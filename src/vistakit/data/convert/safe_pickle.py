"""Read plain-data pickles (the refer toolkit's ``refs(*).p``, the ReSC/TransVG ``*.pth`` split files) without
torch and without running arbitrary code.

A pickle can name any importable callable; :class:`PlainUnpickler` only resolves a short list of builtin
container / scalar types and refuses persistent ids (how ``torch.save`` refers to tensor storages), so a file
holding code or tensors is refused with a clear error instead of being executed.

Legacy ``torch.save`` files (before PyTorch 1.6) are several pickles in a row: a magic number, the protocol
version, a ``sys_info`` dict, the object itself, then the list of tensor storage keys. Zip-format ``torch.save``
files keep the object in ``<name>/data.pkl``. :func:`load_plain_pickle` reads all three layouts.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

from .base import require_file

# torch/serialization.py's magic number for the legacy (non-zip) format.
LEGACY_TORCH_MAGIC = 0x1950A86A20F9469CFC6C
ALLOWED_GLOBALS = {
    ("builtins", name)
    for name in (
        "list",
        "dict",
        "tuple",
        "set",
        "frozenset",
        "str",
        "bytes",
        "bytearray",
        "int",
        "float",
        "complex",
        "bool",
    )
}


class PlainUnpickler(pickle.Unpickler):
    """Unpickles only builtin containers and scalars; anything else raises ``pickle.UnpicklingError``."""

    def find_class(self, module: str, name: str) -> Any:
        # Python 2 pickles (protocol <= 2) name the builtins module "__builtin__".
        if (("builtins" if module == "__builtin__" else module), name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only plain builtin data is allowed")

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError(
            f"refusing persistent id {pid!r:.60} (a tensor storage?): only plain data is allowed"
        )


def _load_one(fh: io.BufferedIOBase, path: Path) -> Any:
    try:
        return PlainUnpickler(fh, encoding="utf-8").load()
    except EOFError:
        raise ValueError(f"{path}: the pickle ends early; the file is truncated or empty") from None
    except pickle.UnpicklingError as exc:
        raise ValueError(f"{path}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: a Python 2 string is not UTF-8 ({exc.reason}); expected UTF-8 text") from None
    except Exception as exc:  # corrupt opcodes raise anything from struct.error to MemoryError
        raise ValueError(f"{path}: not a readable pickle ({type(exc).__name__}: {exc})") from None


def load_plain_pickle(path: str | Path) -> Any:
    """The object in a plain-data pickle, a legacy ``torch.save`` file or a zip-format ``torch.save`` file.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` (naming the file) for anything that is
    not plain builtin data: a global other than builtin containers, a tensor, a corrupt or truncated pickle.
    """
    p = require_file(path, "pickle file")
    if zipfile.is_zipfile(p):
        with zipfile.ZipFile(p) as zf:
            members = [n for n in zf.namelist() if n.endswith("data.pkl")]
            if len(members) != 1:
                raise ValueError(f"{p}: a zip file but not a torch.save archive (expected one '*/data.pkl')")
            return _load_one(io.BytesIO(zf.read(members[0])), p)
    with p.open("rb") as fh:
        first = _load_one(fh, p)
        if not (isinstance(first, int) and first == LEGACY_TORCH_MAGIC):
            return first
        version = _load_one(fh, p)
        if not isinstance(version, int):
            raise ValueError(
                f"{p}: legacy torch.save header: expected an integer protocol version, got {type(version).__name__}"
            )
        sys_info = _load_one(fh, p)
        if not isinstance(sys_info, dict):
            raise ValueError(f"{p}: legacy torch.save header: expected a sys_info dict, got {type(sys_info).__name__}")
        obj = _load_one(fh, p)
        keys = _load_one(fh, p)
        if keys:
            raise ValueError(
                f"{p}: holds {len(keys)} tensor storage(s); only plain data (lists, tuples, strings, numbers) is allowed"
            )
        return obj

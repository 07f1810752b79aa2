"""Atomic file replacement: a file is either its old content or its new content, never a torn or empty one.

The new content goes to a hidden temporary file in the same folder (same file system, so the rename is atomic),
is flushed and ``fsync``-ed, then ``os.replace``-d over the target; the folder is ``fsync``-ed too where the
platform allows, so the rename itself survives a power cut. A crash or kill before the rename leaves the old
file untouched (and at worst a ``.<name>.tmp-*`` leftover, removed by the next write of the same file).

Every file training *rewrites* (``train/log.jsonl`` on resume, ``train/train_config.json``, ``curves.png``) goes
through :func:`atomic_write`; checkpoint folders use the same temp-then-rename rule on whole folders
(:mod:`vistakit.train.checkpoint`). The ``atomicwrites`` package did this once but is archived, hence these
few lines.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator


def _read_umask() -> int:
    mask = os.umask(0)  # the only way to read it; done once, at import, not while other threads write files
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows: folders cannot be opened; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """``with atomic_write(path) as fh: fh.write(...)``: ``path`` holds the new content only once the block
    ends without an exception; an exception (or a kill) inside it leaves the old ``path`` as it was.

    ``mode`` is ``"w"`` (text, ``encoding``) or ``"wb"`` (bytes)."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    for leftover in folder.glob(f".{path.name}.tmp-*"):  # a previous write killed before its rename
        with contextlib.suppress(OSError):
            leftover.unlink()
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.tmp-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():  # keep the old file's permissions (mkstemp creates 0600)
            with contextlib.suppress(OSError):
                os.chmod(tmp, path.stat().st_mode & 0o7777)
        else:
            os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(folder)


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Replace ``path``'s content with ``text`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, "w", encoding) as fh:
        fh.write(text)
    return Path(path)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Replace ``path``'s content with ``data`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, "wb") as fh:
        fh.write(data)
    return Path(path)

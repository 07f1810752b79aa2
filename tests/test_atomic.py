import os

import pytest

from vistakit import atomic
from vistakit.atomic import atomic_write, atomic_write_bytes, atomic_write_text


def test_writes_and_replaces(tmp_path):
    path = tmp_path / "sub" / "a.json"
    atomic_write_text(path, "one\n")
    assert path.read_text() == "one\n"
    atomic_write_bytes(path, b"two\n")
    assert path.read_bytes() == b"two\n"
    assert [p.name for p in path.parent.iterdir()] == ["a.json"]  # no temp file left


def test_an_exception_mid_write_leaves_the_old_file_whole(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text("old line 1\nold line 2\n")
    with pytest.raises(RuntimeError, match="killed"):
        with atomic_write(path) as fh:
            fh.write("new, half written")
            raise RuntimeError("killed")
    assert path.read_text() == "old line 1\nold line 2\n"
    assert [p.name for p in tmp_path.iterdir()] == ["log.jsonl"]


def test_a_failed_rename_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "train_config.json"
    path.write_text('{"steps": 10}\n')

    def fail(src, dst):
        raise OSError("killed at the rename")

    monkeypatch.setattr(atomic.os, "replace", fail)
    with pytest.raises(OSError, match="killed at the rename"):
        atomic_write_text(path, '{"steps": 20}\n')
    assert path.read_text() == '{"steps": 10}\n'


def test_a_leftover_of_a_killed_write_is_removed_next_time(tmp_path):
    path = tmp_path / "a.txt"
    (tmp_path / ".a.txt.tmp-abc").write_text("torn")
    atomic_write_text(path, "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_keeps_the_permissions_of_the_file_it_replaces(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("x")
    os.chmod(path, 0o640)
    atomic_write_text(path, "y")
    assert path.stat().st_mode & 0o777 == 0o640


def test_refuses_other_modes(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        with atomic_write(tmp_path / "a", "a"):
            pass

"""Bad record files: every problem is one ValueError naming file:line, checked before anything large is built."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pycocotools import mask as mask_utils

from vistakit.data.jsonl import MAX_DEPTH, iter_jsonl
from vistakit.data.record import Record, check_rle, read_records, rle_runs, write_records


def _rec(i=0, **changes):
    obj = {"version": 1, "id": f"r{i}", "task": "res", "images": ["images/a.png"], "image_sizes": [[8, 6]],
           "prompt": "<image>\nSegment the square.", "answer": "",
           "targets": {"masks": [_rle(np.ones((6, 8), np.uint8))]}}  # fmt: skip
    obj.update(changes)
    return obj


def _rle(arr):
    r = mask_utils.encode(np.asfortranarray(arr.astype(np.uint8)))
    return {"size": [int(v) for v in r["size"]], "counts": r["counts"].decode("ascii")}


def _write(tmp_path, *lines):
    path = tmp_path / "test.jsonl"
    path.write_bytes(b"\n".join(x if isinstance(x, bytes) else json.dumps(x).encode() for x in lines) + b"\n")
    return path


def _error(path):
    with pytest.raises(ValueError) as err:
        list(read_records(path))
    return str(err.value)


def test_deep_nesting_is_a_line_error_not_a_recursion_error(tmp_path):
    path = _write(tmp_path, _rec(0), b"[" * 100_000 + b"]" * 100_000)
    assert _error(path).endswith(f"test.jsonl:line 2: the JSON nests deeper than this reader allows ({MAX_DEPTH} levels)")
    meta = {"a": 0}
    for _ in range(MAX_DEPTH + 5):
        meta = {"a": meta}
    assert "line 1: the JSON nests deeper" in _error(_write(tmp_path, _rec(0, meta=meta)))


def test_non_utf8_bytes_name_the_line_and_column(tmp_path):
    path = _write(tmp_path, _rec(0), b'{"id": "\xff\xfe"}')
    assert "test.jsonl:line 2: not UTF-8 text (byte 0xff at column 9)" in _error(path)


def test_a_5000_digit_integer_is_refused_with_its_line(tmp_path):
    path = _write(tmp_path, b'{"version": 1, "id": "x", "n": ' + b"7" * 5000 + b"}")
    assert "test.jsonl:line 1: an integer of 5000 digits" in _error(path)


@pytest.mark.parametrize("image", ["../../etc/passwd", "/etc/passwd", "images/../../x.png", "C:\\x.png", "a\x00.png"])
def test_image_paths_must_stay_inside_the_data_folder(tmp_path, image):
    assert "test.jsonl:line 1 (id r0): images[0]" in _error(_write(tmp_path, _rec(0, images=[image])))


def test_oversized_images_and_masks_are_refused_before_allocation(tmp_path):
    big = {"size": [60000, 60000], "counts": "0" + "P" * 10}
    msg = _error(_write(tmp_path, _rec(0, image_sizes=[[60000, 60000]], targets={"masks": [big]})))
    assert "line 1 (id r0): image_sizes[0] is 60000x60000 = 3600000000 pixels, more than the limit" in msg


@pytest.mark.parametrize("counts", ["garbage!!", "~~~~", "0", "1" * 40, "9"])
def test_garbage_rle_counts_are_refused_with_the_line(tmp_path, counts):
    msg = _error(_write(tmp_path, _rec(0, targets={"masks": [{"size": [6, 8], "counts": counts}]})))
    assert "test.jsonl:line 1 (id r0): targets.masks[0].counts" in msg


def test_masks_of_another_size_than_the_image_are_refused(tmp_path):
    msg = _error(_write(tmp_path, _rec(0, targets={"masks": [_rle(np.ones((5, 8), np.uint8))]})))
    assert "line 1 (id r0): targets.masks[0].size [5, 8] does not match its image's [H, W] = [6, 8]" in msg


def test_duplicate_ids_name_both_lines(tmp_path):
    assert "test.jsonl:line 3: the id 'r0' repeats that of line 1" in _error(_write(tmp_path, _rec(0), _rec(1), _rec(0)))


def test_records_know_their_line_and_check_their_images(tmp_path):
    path = _write(tmp_path, _rec(0), _rec(1, images=["images/b.png"]), _rec(2, images=["images/c.png"]))
    (tmp_path / "images").mkdir()
    Image.new("RGB", (8, 6)).save(tmp_path / "images/a.png")
    (tmp_path / "images/b.png").write_text("not an image")
    Image.new("RGB", (9, 6)).save(tmp_path / "images/c.png")
    a, b, c = read_records(path)
    assert a.source.endswith("test.jsonl:line 1")
    a.check_images()
    with pytest.raises(ValueError, match=r"test\.jsonl:line 2 \(id r1\) images\[0\] = 'images/b.png': not a readable"):
        b.check_images()
    with pytest.raises(ValueError, match=r"line 3 \(id r2\) .* the image is 9x6 pixels but image_sizes\[0\] says 8x6"):
        c.check_images()


def test_write_records_is_atomic(tmp_path):
    path = tmp_path / "out.jsonl"
    good = Record.from_json(_rec(0))
    write_records(path, [good])
    before = path.read_bytes()
    bad = Record.from_json(_rec(1))
    bad.images = ["../x.png"]
    with pytest.raises(ValueError):
        write_records(path, [good, bad])
    assert path.read_bytes() == before


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.integers(0, 2**31 - 1))
def test_rle_runs_agree_with_pycocotools(h, w, seed):
    arr = (np.random.default_rng(seed).random((h, w)) < 0.4).astype(np.uint8)
    rle = _rle(arr)
    runs = rle_runs(rle["counts"])
    assert sum(runs) == h * w
    assert sum(runs[1::2]) == int(arr.sum())
    assert check_rle(rle, "w", "m", (h, w)) == rle


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_rle_runs_never_raise_on_any_text(text):
    runs = rle_runs(text)
    assert runs is None or all(r >= 0 for r in runs)


def test_iter_jsonl_still_skips_blank_lines_and_a_bom(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\n\n  \n{"a": 2}\n')
    assert [v for _, v in iter_jsonl(path)] == [{"a": 1}, {"a": 2}]

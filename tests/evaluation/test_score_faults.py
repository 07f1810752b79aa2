"""``score`` and ``eval`` on bad inputs: predicted masks checked before decoding, record images checked from
their headers, each error naming file:line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from vistakit.evaluation.runner import load_split
from vistakit.evaluation.score import score_files


def _rle(arr):
    r = mask_utils.encode(np.asfortranarray(arr.astype(np.uint8)))
    return {"size": [int(v) for v in r["size"]], "counts": r["counts"].decode("ascii")}


def _gold(tmp_path, image="images/a.png", n=1):
    recs = [{"version": 1, "id": f"r{i}", "task": "res", "images": [image], "image_sizes": [[8, 6]],
             "prompt": "<image>\nSegment the square.", "answer": "",
             "targets": {"masks": [_rle(np.ones((6, 8)))]}} for i in range(n)]  # fmt: skip
    path = tmp_path / "test.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


def _pred(tmp_path, *lines):
    path = tmp_path / "pred.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def test_a_well_formed_mask_prediction_scores(tmp_path):
    report = score_files("res", _gold(tmp_path), _pred(tmp_path, {"id": "r0", "masks": [_rle(np.ones((6, 8)))]}))
    assert report.n_pred == 1 and not report.missing


@pytest.mark.parametrize(
    "mask, message",
    [({"size": [60000, 60000], "counts": "PP"}, r"masks\[0\]\.size \[60000, 60000\] does not match its image's"),
     ({"size": [6, 8], "counts": "garbage!!"}, r"masks\[0\]\.counts is not a COCO compressed RLE"),
     ({"size": [6, 8], "counts": "1"}, r"masks\[0\]\.counts cover 1 pixels, but its size \[6, 8\] has 48"),
     ({"size": [5, 8], "counts": "0"}, r"masks\[0\]\.size \[5, 8\] does not match its image's \[H, W\] = \[6, 8\]")],
)  # fmt: skip
def test_bad_predicted_masks_are_refused_before_decoding(tmp_path, mask, message):
    with pytest.raises(ValueError, match=r"pred\.jsonl:line 1: " + message):
        score_files("res", _gold(tmp_path), _pred(tmp_path, {"id": "r0", "masks": [mask]}))


def test_a_mask_on_an_image_the_record_lacks_is_refused(tmp_path):
    pred = _pred(tmp_path, {"id": "r0", "masks": [_rle(np.ones((6, 8)))], "image_ids": [3]})
    with pytest.raises(ValueError, match=r"pred\.jsonl:line 1: image_ids\[0\] = 3 is not an image of record 'r0'"):
        score_files("res", _gold(tmp_path), pred)


def test_duplicate_gold_ids_are_refused_by_score(tmp_path):
    gold = _gold(tmp_path)
    gold.write_text(gold.read_text() * 2)
    with pytest.raises(ValueError, match=r"test\.jsonl:line 2: the id 'r0' repeats that of line 1"):
        score_files("res", gold, _pred(tmp_path, {"id": "r0", "answer": ""}))


def test_eval_checks_each_record_image_from_its_header(tmp_path):
    _gold(tmp_path)
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_text("#!/bin/sh\necho not an image\n")
    with pytest.raises(ValueError, match=r"test\.jsonl:line 1 \(id r0\) images\[0\] = 'images/a\.png': not a readable"):
        load_split(tmp_path, "test")
    Image.new("RGB", (8, 6)).save(tmp_path / "images" / "a.png")
    assert len(load_split(tmp_path, "test")["res"]) == 1

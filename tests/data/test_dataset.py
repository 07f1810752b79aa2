"""Streaming dataset and dataset folders."""

from __future__ import annotations

import json

import pytest

from vistakit.data import Record, RecordDataset, Targets, read_dataset_info, write_dataset


def rec(i: int, task: str = "vqa", n_images: int = 1) -> Record:
    return Record(f"r{i}", task, [f"images/{i}_{k}.png" for k in range(n_images)], [(8, 6)] * n_images,
                  "<image>\n" * n_images + "q?", answer="yes", targets=Targets(answers=["yes"]))  # fmt: skip


def test_write_then_stream(tmp_path):
    info = write_dataset(tmp_path, {"train": [rec(0), rec(1, "nlvr", 2), rec(2)], "val": [rec(3)]}, source="unit")
    assert info["splits"] == {"train": 3, "val": 1}
    assert info["tasks"]["train"] == {"nlvr": 1, "vqa": 2}
    assert read_dataset_info(tmp_path)["bins"] == 1000
    ds = RecordDataset(tmp_path)
    recs = list(ds)
    assert [r.id for r in recs] == ["r0", "r1", "r2", "r3"]
    assert recs[1].image_paths() == [tmp_path / "images/1_0.png", tmp_path / "images/1_1.png"]
    assert [r.id for r in RecordDataset(tmp_path / "train.jsonl", tasks=["nlvr"])] == ["r1"]
    shards = [[r.id for r in RecordDataset(tmp_path, shard=(i, 2))] for i in range(2)]
    assert shards == [["r0", "r2"], ["r1", "r3"]]
    assert ds.count() == 4


def test_missing_images_and_duplicate_ids_are_reported(tmp_path):
    write_dataset(tmp_path, {"train": [rec(0)]}, source="unit")
    with pytest.raises(FileNotFoundError, match="record 'r0' names a missing image"):
        list(RecordDataset(tmp_path, check_images=True))
    (tmp_path / "images").mkdir()
    (tmp_path / "images/0_0.png").write_bytes(b"")
    assert len(list(RecordDataset(tmp_path, check_images=True))) == 1
    line = json.dumps(rec(5).to_json())
    (tmp_path / "dup.jsonl").write_text(line + "\n" + line + "\n")
    with pytest.raises(ValueError, match="dup.jsonl:line 2: the id 'r5' repeats that of line 1"):
        list(RecordDataset(tmp_path / "dup.jsonl"))
    with pytest.raises(ValueError, match="unique per split"):
        write_dataset(tmp_path / "o", {"train": [rec(0), rec(0)]}, source="unit")


def test_bad_paths_and_shards(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such record file"):
        RecordDataset(tmp_path / "nope.jsonl")
    with pytest.raises(FileNotFoundError, match="no \\*.jsonl"):
        RecordDataset(tmp_path)
    (tmp_path / "a.jsonl").write_text("")
    with pytest.raises(ValueError, match="shard"):
        RecordDataset(tmp_path, shard=(2, 2))
    with pytest.raises(FileNotFoundError, match="not a vistakit dataset folder"):
        read_dataset_info(tmp_path)

"""Video Localized Narratives on the shipped OVIS sample (3 videos, 7 actor narratives, 30 keyframes)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vistakit.data.convert.video_narratives import convert_video_narratives


@pytest.fixture(scope="module")
def vln(data_dir):
    return data_dir / "video_localized_narratives" / "OVIS_train_sample.jsonl"


def test_keyframe_records(vln, roundtrip):
    conv = convert_video_narratives(vln)
    assert conv.counts == {"videos": 3, "actor_narratives": 7, "trace_points": 4027}
    recs = roundtrip(conv)["train"]
    assert recs and all(r.task == "grounded_caption" and r.targets.words for r in recs)
    # every (actor, keyframe with trace points) pair is either a record or a counted skip
    src = [json.loads(line) for line in vln.read_text().splitlines()]
    pairs = sum(len({p["kf_idx"] for tr in a["traces"] for p in tr}) for v in src for a in v["actor_narratives"])
    assert len(recs) + sum(conv.skipped.values()) == pairs
    for r in recs:
        w, h = r.image_sizes[0]
        for word in r.targets.words:
            assert 0 <= word["point"][0] <= w and 0 <= word["point"][1] <= h
            assert r.targets.answers[0][word["start"] : word["end"]] == word["text"]


def test_spot_check_group_of_people(vln):
    conv = convert_video_narratives(vln)
    r = next(r for r in conv.splits["train"] if r.id == "vln-train-c1a40349-a0-kf5")
    assert r.images == ["images/OVIS_train/c1a40349/img_0000040.jpg"] and r.meta["actor_name"] == "Group of people"
    assert r.targets.answers == ["A group of people is cycling on the grey road."]
    # "group" is spoken 2540–2900 ms after the recording starts; recompute its mean trace point by hand
    actor = json.loads(vln.read_text().splitlines()[0])["actor_narratives"][0]
    t0 = actor["recording_start_time_ms_since_epoch"]
    pts = [(p["x"], p["y"]) for tr in actor["traces"] for p in tr
           if p["kf_idx"] == 5 and t0 + 2540 <= p["time_ms_since_epoch"] <= t0 + 2900]  # fmt: skip
    w, h = r.image_sizes[0]
    word = next(x for x in r.targets.words if x["text"] == "group")
    np.testing.assert_allclose(word["point"], np.mean(pts, axis=0) * [w, h], atol=0.01)


def test_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="Video Localized Narratives jsonl not found"):
        convert_video_narratives(tmp_path / "x.jsonl")
    p = tmp_path / "v.jsonl"
    p.write_text(
        '{"dataset_id": "d", "video_id": "v", "keyframe_names": ["k"], "actor_narratives": [{"caption": "c"}]}\n'
    )
    with pytest.raises(FileNotFoundError, match="frames folder beside the jsonl"):
        convert_video_narratives(p)
    (tmp_path / "frames").mkdir()
    with pytest.raises(ValueError, match=r"actor_narratives\[0\]: missing field 'recording_start_time_ms_since_epoch'"):
        convert_video_narratives(p)

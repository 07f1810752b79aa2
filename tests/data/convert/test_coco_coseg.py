"""COCO → coseg groups (on the real coco_mini / coco_tiny samples) and attcoseg groups (on a tiny FIXTURE of the
COCO instances + captions layout written here: coco_mini has no attribute-category pair described in two images of
one file)."""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pytest

from vistakit.cli import main
from vistakit.data.convert.coco_coseg import convert_coco_attcoseg, convert_coco_coseg, parse_attributes
from vistakit.geometry import Mask


@pytest.fixture(scope="module")
def mini_val(data_dir):
    return data_dir / "coco_mini" / "annotations" / "instances_val2017.json"


@pytest.fixture(scope="module")
def mini_conv(mini_val):
    return convert_coco_coseg(mini_val)


def test_coseg_groups_share_exactly_one_category(mini_val, mini_conv, roundtrip):
    src = json.loads(mini_val.read_text())
    names = {c["id"]: c["name"] for c in src["categories"]}
    cats, crowd, anns = defaultdict(set), defaultdict(set), defaultdict(list)
    for a in src["annotations"]:
        cats[a["image_id"]].add(names[a["category_id"]])
        if a["iscrowd"]:
            crowd[a["image_id"]].add(names[a["category_id"]])
        else:
            anns[(a["image_id"], names[a["category_id"]])].append(a)
    recs = roundtrip(mini_conv)["val2017"]
    assert len(recs) == mini_conv.num_records() >= 20 and {r.task for r in recs} == {"coseg"}
    for r in recs:
        ids, name = r.meta["coco_image_ids"], r.meta["category"]
        assert len(ids) == len(set(ids)) == len(r.images) == 3
        assert set.intersection(*(cats[i] for i in ids)) == {name}
        assert all(name not in crowd[i] for i in ids)
        assert r.targets.labels == [name] * 3 and r.targets.image_ids == [0, 1, 2]
        assert r.answer.startswith(f"<p>{name}</p><img_0><mask>")
        assert [sorted(x) for x in r.meta["coco_ann_ids"]] == [sorted(a["id"] for a in anns[(i, name)]) for i in ids]
    # every usable (image, category) is grouped once or counted as left out
    usable = sum(1 for (iid, name) in anns if name not in crowd[iid])
    left = sum(n for k, n in mini_conv.skipped.items() if "image" in k and "group with" not in k)
    assert usable == 3 * len(recs) + left


def test_coseg_mask_is_the_union_of_instances(mini_val, mini_conv):
    src = json.loads(mini_val.read_text())
    r = max(mini_conv.splits["val2017"], key=lambda r: max(len(x) for x in r.meta["coco_ann_ids"]))
    k = max(range(3), key=lambda k: len(r.meta["coco_ann_ids"][k]))
    ids = set(r.meta["coco_ann_ids"][k])
    assert len(ids) >= 2  # a group where one image has several instances of the category
    W, H = r.image_sizes[k]
    want = np.zeros((H, W), bool)
    for a in src["annotations"]:
        if a["id"] in ids:
            want |= Mask.from_coco_segmentation(a["segmentation"], H, W).array
    got = Mask.from_rle(r.targets.masks[k]).array
    assert got.shape == (H, W) and np.array_equal(got, want)


def test_coseg_is_seeded_and_checks_group_size(mini_val, mini_conv):
    metas = [[r.meta for r in convert_coco_coseg(mini_val, seed=s, limit=60).splits["val2017"]] for s in (0, 0, 1)]
    assert metas[0] == metas[1] and metas[0] != metas[2]
    two = convert_coco_coseg(mini_val, group_size=2, limit=40)
    assert all(len(r.images) == 2 for r in two.splits["val2017"])
    with pytest.raises(ValueError, match="group size must be an integer number of images >= 2, got 1"):
        convert_coco_coseg(mini_val, group_size=1)


def test_coseg_cli_on_coco_tiny_and_score(data_dir, tmp_path, capsys, score_cli):
    d = data_dir / "coco_tiny"
    out = tmp_path / "coseg"
    rc = main(["data", "convert", "--from", "coco-coseg", "--annotations", str(d / "annotations" / "instances_train2017.json"),
               "--images", str(d / "train2017"), "--out", str(out), "--json"])  # fmt: skip
    assert rc == 0
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert info["tasks"]["coseg"] >= 10 and info["images_missing"] == 0
    from vistakit.data.record import read_records

    golds = list(read_records(out / "train2017.jsonl"))[:12]
    assert all(p.is_file() for g in golds for p in g.image_paths())
    perfect = score_cli("coseg", golds, {g.id: g.answer for g in golds})
    assert perfect["accuracy"] == 1.0 and perfect["jaccard"] > 0.75  # GAAS polygons, not the exact masks
    relabel = {g.id: g.answer.replace(f"<p>{g.targets.labels[0]}</p>", "<p>zebra crossing</p>", 1) for g in golds}
    assert score_cli("coseg", golds, relabel)["accuracy"] == 0.0
    first_only = {g.id: g.answer[: g.answer.index("<img_1>")] for g in golds}
    m = score_cli("coseg", golds, first_only)
    assert m["accuracy"] == 1.0 and m["jaccard"] < perfect["jaccard"] / 2


# --- attcoseg on a fixture ------------------------------------------------------------------------------
def _box_ann(aid, iid, cat, x, y, w, h, crowd=0):
    return {"id": aid, "image_id": iid, "category_id": cat, "bbox": [x, y, w, h], "iscrowd": crowd, "area": w * h,
            "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]]}  # fmt: skip


def _attcoseg_fixture(tmp_path):
    """instances_val2017.json + captions_val2017.json: bus = 6, car = 3, dog = 18, cat = 17 (COCO ids)."""
    images = [{"id": i, "file_name": f"{i:012d}.jpg", "width": 60 + i, "height": 40} for i in range(1, 9)]
    anns = [
        _box_ann(11, 1, 6, 5, 5, 20, 10),     # 1: one bus, "a red bus"                → positive
        _box_ann(21, 2, 6, 30, 10, 25, 20),   # 2: one bus, "red buses"                → positive
        _box_ann(31, 3, 6, 0, 0, 10, 10),     # 3: one bus, "a white bus"              → hard distractor
        _box_ann(41, 4, 18, 1, 1, 5, 5),      # 4: a dog                               → free distractor
        _box_ann(51, 5, 6, 0, 0, 10, 10), _box_ann(52, 5, 6, 20, 0, 10, 10),  # 5: two buses → not used
        _box_ann(61, 6, 6, 0, 0, 10, 10),     # 6: one bus, "red" and "blue"           → not used
        _box_ann(71, 7, 3, 0, 0, 10, 10),     # 7: one car, "a green car"              → no partner; free for bus
        _box_ann(81, 8, 17, 2, 2, 8, 8),      # 8: a cat                               → free distractor
    ]  # fmt: skip
    cats = [{"id": 3, "name": "car"}, {"id": 6, "name": "bus"}, {"id": 17, "name": "cat"}, {"id": 18, "name": "dog"}]
    texts = {1: ["A red bus parked by the road.", "a bus"], 2: ["Two  RED buses in a depot."], 3: ["A white bus."],
             4: ["A dog sleeps."], 5: ["A red bus next to a white bus."], 6: ["A red bus.", "A blue bus."],
             7: ["A green car."], 8: ["A cat."]}  # fmt: skip
    caps = [{"id": 100 * i + j, "image_id": i, "caption": t} for i, ts in texts.items() for j, t in enumerate(ts)]
    d = tmp_path / "coco"
    d.mkdir(exist_ok=True)
    inst, cap = d / "instances_val2017.json", d / "captions_val2017.json"
    inst.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    cap.write_text(json.dumps({"images": images, "annotations": caps}))
    return inst, cap


def test_attcoseg_fixture(tmp_path, roundtrip):
    inst, cap = _attcoseg_fixture(tmp_path)
    conv = convert_coco_attcoseg(inst, cap)
    recs = roundtrip(conv)["val2017"]
    assert len(recs) == 1
    r = recs[0]
    order = r.meta["coco_image_ids"]
    assert r.task == "attcoseg" and len(order) == 4 and len(set(order)) == 4
    assert sorted(order[k] for k in r.targets.image_ids) == [1, 2] and r.targets.image_ids == sorted(r.targets.image_ids)
    assert 3 in order and set(order) - {1, 2, 3} <= {4, 7, 8} and r.meta["hard_distractors"] == 1
    assert r.meta["attribute"] == "red" and r.meta["category"] == "bus" and r.targets.labels == ["red bus"] * 2
    assert "a red bus" in r.prompt and r.prompt.count("<image>") == 4
    by_image = {order[k]: (box, m) for k, box, m in zip(r.targets.image_ids, r.targets.boxes, r.targets.masks)}
    assert by_image[1][0] == [5.0, 5.0, 25.0, 15.0] and by_image[2][0] == [30.0, 10.0, 55.0, 30.0]
    assert Mask.from_rle(by_image[1][1]).area() == 200 and r.image_sizes[order.index(2)] == (62, 40)
    assert r.meta["evidence"][[order[k] for k in r.targets.image_ids].index(2)] == "two red buses in a depot."
    assert r.answer.count("<mask>") == 2 and r.answer.startswith(f"<img_{r.targets.image_ids[0]}><mask>")
    assert conv.skipped == {
        "attcoseg: described category with several instances or a crowd region": 1,  # image 5 (two buses)
        "attcoseg: captions give the category several attributes": 1,  # image 6
        "attcoseg: positive image without a partner": 2,  # white bus (3), green car (7)
    }
    # only two images per record: the pair itself
    assert [len(x.images) for x in convert_coco_attcoseg(inst, cap, group_size=2).splits["val2017"]] == [2]
    # custom attribute words: "white" alone has one image, so nothing pairs
    with pytest.raises(KeyError):
        convert_coco_attcoseg(inst, cap, attributes="white").splits["val2017"]


def test_attcoseg_errors(tmp_path):
    inst, cap = _attcoseg_fixture(tmp_path)
    with pytest.raises(ValueError, match="coco-attcoseg needs --captions"):
        convert_coco_attcoseg(inst, None)
    other = tmp_path / "captions_train2017.json"
    other.write_text(json.dumps({"images": [{"id": 99, "file_name": "x.jpg", "width": 5, "height": 5}],
                                 "annotations": [{"id": 1, "image_id": 99, "caption": "a red bus"}]}))  # fmt: skip
    with pytest.raises(ValueError, match="captions_train2017.json: none of its captions is of an image of"):
        convert_coco_attcoseg(inst, other)
    with pytest.raises(ValueError, match="attributes must be comma-separated words"):
        convert_coco_attcoseg(inst, cap, attributes="red;blue")
    assert parse_attributes("Red, light  blue,red") == ("red", "light blue")
    with pytest.raises(ValueError, match="group size must be"):
        convert_coco_attcoseg(inst, cap, group_size=True)


def test_attcoseg_cli_and_score(tmp_path, capsys, score_cli):
    inst, cap = _attcoseg_fixture(tmp_path)
    out = tmp_path / "att"
    rc = main(["data", "convert", "--from", "coco-attcoseg", "--annotations", str(inst), "--captions", str(cap),
               "--group-size", "3", "--out", str(out), "--json"])  # fmt: skip
    assert rc == 0
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert info["tasks"] == {"attcoseg": 1} and info["source_counts"]["captions"] == 10
    from vistakit.data.record import read_records

    golds = list(read_records(out / "val2017.jsonl"))
    g = golds[0]
    perfect = score_cli("attcoseg", golds, {g.id: g.answer})
    assert perfect["pair_acc"] == 1.0 and perfect["jaccard"] > 0.9
    other = next(k for k in range(3) if k not in g.targets.image_ids)
    wrong = g.answer.replace(f"<img_{g.targets.image_ids[1]}>", f"<img_{other}>")
    m = score_cli("attcoseg", golds, {g.id: wrong})
    assert m["pair_acc"] == 0.0 and m["jaccard"] < perfect["jaccard"]

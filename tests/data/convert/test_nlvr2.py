"""NLVR2 → nlvr on a tiny FIXTURE of the public layout (lil-lab/nlvr: JSON lines with identifier / sentence /
label, image pairs named ``split-set-pair-img0.png`` / ``img1.png``, train images in numbered sub-folders),
written here; no real NLVR2 file or image is shipped."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from vistakit.cli import main
from vistakit.data.convert.nlvr2 import convert_nlvr2, pair_names


def _line(identifier, sentence, label, **extra):
    obj = {"identifier": identifier, "sentence": sentence, "label": label, "left_url": "http://x/l.jpg",
           "right_url": "http://x/r.jpg", "writer": "w1", "synset": "n02084071", "query": "dogs 12",
           "validation": {"w2": "True"}, **extra}  # fmt: skip
    return json.dumps(obj) + "\n"


def _fixture(tmp_path, lines=None):
    """dev.json (two examples on one pair, one on a pair whose right image is missing) and train.json (one
    example, images in the train/<directory>/ download layout); dev images are JPEG bytes named .png."""
    imgs = tmp_path / "nlvr2_images"
    (imgs / "dev").mkdir(parents=True)
    (imgs / "train" / "7").mkdir(parents=True)
    Image.new("RGB", (40, 30), "red").save(imgs / "dev" / "dev-850-0-img0.png", format="JPEG")
    Image.new("RGB", (20, 50), "blue").save(imgs / "dev" / "dev-850-0-img1.png")
    Image.new("RGB", (16, 16)).save(imgs / "dev" / "dev-851-2-img0.png")  # its img1 is missing
    Image.new("RGB", (12, 10)).save(imgs / "train" / "7" / "train-10171-1-img0.png")
    Image.new("RGB", (10, 12)).save(imgs / "train" / "7" / "train-10171-1-img1.png")
    dev = tmp_path / "dev.json"
    dev.write_text(lines if lines is not None else (
        _line("dev-850-0-0", "The left image shows exactly  two dogs.", "True")
        + _line("dev-850-0-1", "Both images show a red ball.", "False")
        + _line("dev-851-2-0", "There is a cat.", "True")
    ))  # fmt: skip
    train = tmp_path / "train.json"
    train.write_text(_line("train-10171-1-0", "One dog is lying down.", "False", directory=7))
    return dev, train, imgs


def test_pair_names():
    assert pair_names("test1-0-1-0", "x") == ("test1", "test1-0-1-img0.png", "test1-0-1-img1.png")
    with pytest.raises(ValueError, match=r"x: identifier 'dev-850' is not NLVR2's split-set_id-pair_id-sentence_id"):
        pair_names("dev-850", "x")


def test_dev_and_train_layouts(tmp_path, roundtrip):
    dev, train, imgs = _fixture(tmp_path)
    conv = convert_nlvr2(dev, imgs)
    back = roundtrip(conv)
    assert conv.counts == {"examples": 3} and conv.skipped == {"image pair not found under --images": 1}
    recs = back["dev"]
    assert [r.id for r in recs] == ["nlvr2-dev-850-0-0", "nlvr2-dev-850-0-1"]
    r = recs[0]
    assert r.task == "nlvr" and r.images == ["images/dev-850-0-img0.png", "images/dev-850-0-img1.png"]
    assert r.image_sizes == [(40, 30), (20, 50)]  # sizes from the headers (the first is a JPEG named .png)
    assert r.answer == "true" and recs[1].answer == "false" and r.targets.answers == ["true"]
    assert "The left image shows exactly two dogs." in r.prompt and r.prompt.count("<image>") == 2
    assert r.meta == {"source": "nlvr2", "identifier": "dev-850-0-0", "synset": "n02084071", "query": "dogs 12"}
    assert conv.image_sources["images/dev-850-0-img1.png"] == imgs / "dev" / "dev-850-0-img1.png"
    t = convert_nlvr2(train, imgs, split="mine")
    assert [x.id for x in t.splits["mine"]] == ["nlvr2-train-10171-1-0"] and t.splits["mine"][0].answer == "false"


@pytest.mark.parametrize(
    "line, message",
    [
        (_line("dev-850-0-0", "A dog.", "maybe"), r'dev.json:line 1: label must be "True" or "False", got \'maybe\''),
        (_line("dev_850_0_0", "A dog.", "True"), r"dev.json:line 1: identifier 'dev_850_0_0' is not NLVR2's"),
        (json.dumps({"identifier": "dev-850-0-0", "label": "True"}) + "\n", r"dev.json:line 1: missing field 'sentence'"),
        ("[1, 2]\n", r"dev.json:line 1: expected a JSON object, got list"),
        ("{broken\n", r"dev.json:line 1: not valid JSON"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, line, message):
    dev, _, imgs = _fixture(tmp_path, line)
    with pytest.raises(ValueError, match=message):
        convert_nlvr2(dev, imgs)


def test_needs_images(tmp_path):
    dev, _, _ = _fixture(tmp_path)
    with pytest.raises(ValueError, match="nlvr2 needs --images"):
        convert_nlvr2(dev, None)
    with pytest.raises(FileNotFoundError, match="--images is not a directory"):
        convert_nlvr2(dev, tmp_path / "nope")


def test_cli_convert_and_score(tmp_path, capsys, score_cli):
    dev, _, imgs = _fixture(tmp_path)
    out = tmp_path / "out"
    rc = main(["data", "convert", "--from", "nlvr2", "--annotations", str(dev), "--images", str(imgs),
               "--out", str(out), "--json"])  # fmt: skip
    assert rc == 0
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert info["tasks"] == {"nlvr": 2} and info["images_missing"] == 0 and (out / "images" / "dev-850-0-img0.png").exists()
    from vistakit.data.record import read_records

    golds = list(read_records(out / "dev.jsonl"))
    assert score_cli("nlvr", golds, {g.id: g.answer for g in golds}) == {"accuracy": 1.0}
    flipped = {g.id: {"true": "false", "false": "true"}[g.answer] for g in golds}
    assert score_cli("nlvr", golds, flipped) == {"accuracy": 0.0}
    one_wrong = {**{g.id: g.answer for g in golds}, golds[0].id: "false"}
    assert score_cli("nlvr", golds, one_wrong) == {"accuracy": 0.5}

"""Vision pre-training: attribute words of labelled instances → per-patch targets → a tower that reads them."""

from __future__ import annotations

import contextlib
import json

import numpy as np
import pytest
import torch

from vistakit.data.record import Record, Targets
from vistakit.geometry import ImageTransform, Mask
from vistakit.model import create_model, make_config
from vistakit.model.attributes import IGNORE, label_classes, load_vocab, patch_labels
from vistakit.train.config import TrainConfig
from vistakit.train.loop import train
from vistakit.train.vision_pretrain import pretrain_vision

GROUPS = {"shape": ("circle", "square"), "colour": ("red", "blue"), "size": ("small", "large")}


def record(n_images: int, **targets) -> Record:
    images = [f"{k}.png" for k in range(n_images)]
    return Record("r", "rec", images, [(16, 16)] * n_images, "<image>\nWhere?", targets=Targets(**targets))


def test_label_classes_read_the_leading_attribute_words_only():
    assert label_classes("The large red circle", GROUPS) == [0, 0, 1]
    assert label_classes("square", GROUPS) == [1, IGNORE, IGNORE]
    # "blue" belongs to another object: reading stops at the first word outside the vocabulary
    assert label_classes("circle left of the blue square", GROUPS) == [0, IGNORE, IGNORE]
    assert label_classes("the small object", GROUPS) == [IGNORE, IGNORE, 0]
    assert label_classes("red blue circle", GROUPS) == [0, IGNORE, IGNORE]  # two colours: no colour class
    assert label_classes("", GROUPS) == [IGNORE] * 3


def test_vocab_is_shapesworld_or_a_checked_json_file(tmp_path):
    sw = load_vocab("shapesworld")
    assert set(sw) == {"shape", "colour", "size"} and "star" in sw["shape"] and "red" in sw["colour"]
    good = tmp_path / "vocab.json"
    good.write_text(json.dumps({"animal": ["Dog", "cat"], "colour": ["black", "white"]}))
    assert load_vocab(str(good)) == {"animal": ("dog", "cat"), "colour": ("black", "white")}
    with pytest.raises(FileNotFoundError, match="'shapesworld' or a JSON file"):
        load_vocab(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    for content, message in [
        ("{", "not valid JSON"),
        (json.dumps({"animal": ["dog"]}), "at least two words"),
        (json.dumps({"a": ["dog", "cat"], "b": ["cat", "cow"]}), "'cat' is in two groups"),
    ]:
        bad.write_text(content)
        with pytest.raises(ValueError, match=message):
            load_vocab(str(bad))


def test_patch_labels_mark_the_patches_each_instance_covers():
    t = ImageTransform.fit((16, 16), 16)
    m = np.zeros((16, 16), bool)
    m[8:, 8:] = True  # bottom-right patch of image 1
    two = record(2, boxes=[[0.0, 0.0, 8.0, 8.0], [8.0, 8.0, 16.0, 16.0]],
                 masks=[Mask(np.pad(np.ones((8, 8), bool), ((0, 8), (0, 8)))).to_rle(), Mask(m).to_rle()],
                 image_ids=[0, 1], labels=["the red square", "large blue circle"])  # fmt: skip
    one = record(1, boxes=[[0.0, 0.0, 16.0, 6.0]], labels=["small circle left of the red square"])
    unknown = record(1, boxes=[[0.0, 0.0, 16.0, 16.0]], labels=["a dog"])  # no vocabulary word: no target
    out = patch_labels([two, one, unknown], [[t, t], [t], [t]], grid=2, groups=GROUPS)
    assert out.image.tolist() == [0, 1, 2]
    assert out.classes.tolist() == [[1, 0, IGNORE], [0, 1, 1], [0, IGNORE, 0]]
    assert out.weights.tolist() == [[1.0, 0, 0, 0], [0, 0, 0, 1.0], [0.5, 0.5, 0, 0]]
    patches = out.patches  # [image, group, patch]
    assert patches[0, 0].tolist() == [1, IGNORE, IGNORE, IGNORE]
    assert patches[1, :, 3].tolist() == [0, 1, 1]
    assert patches[2, 0].tolist() == [0, 0, IGNORE, IGNORE] and patches[2, 1].tolist() == [IGNORE] * 4
    assert (patches[3] == IGNORE).all()


def test_pretraining_teaches_the_tower_colour_and_leaves_the_rest(sw_data):
    from vistakit.data.dataset import RecordDataset

    train_records = list(RecordDataset(sw_data / "train.jsonl"))
    torch.manual_seed(0)
    model, processor = create_model(make_config("micro"), (r.prompt for r in train_records), 300)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    logged = []
    # scored on its own training instances: this checks that the stage fits, not how well it generalises
    acc = pretrain_vision(model, processor, train_records, train_records, steps=60, batch_size=16, max_records=1000,
                          vocab="shapesworld", lr=3e-3, weight_decay=0.0, seed=0, autocast=contextlib.nullcontext,
                          log=lambda kind, step, **v: logged.append((kind, step, v)), log_every=20)  # fmt: skip
    assert set(acc) == {"shape", "colour", "size"}
    assert acc["colour"] > 0.5, acc  # 8 colours: chance is ~0.125
    losses = [v["loss"] for kind, _, v in logged if "loss" in v]
    assert len(losses) == 3 and losses[-1] < losses[0]
    changed = {k.split(".")[0] for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"vision"}


def test_trainer_runs_the_stage_first_and_logs_it(sw_data, tmp_path):
    cfg = TrainConfig(data=str(sw_data), out=str(tmp_path / "run"), steps=2, batch_size=4, warmup=0, log_every=1,
                      eval_every=0, save_every=0, tensorboard=False, tokenizer_vocab=300, preset="micro",
                      vision_pretrain_steps=3, vision_pretrain_batch=8, vision_pretrain_vocab="shapesworld")  # fmt: skip
    assert train(cfg, progress=False).finished
    entries = [json.loads(x) for x in (tmp_path / "run" / "train" / "log.jsonl").read_text().splitlines()]
    kinds = [e["kind"] for e in entries]
    assert kinds.index("vision_pretrain") < kinds.index("train")
    final = [e for e in entries if e["kind"] == "vision_pretrain" and "val_colour_accuracy" in e]
    assert len(final) == 1 and 0 <= final[0]["val_colour_accuracy"] <= 1
    assert (tmp_path / "run" / "train" / "curves.png").is_file()  # with the stage's loss panel
    with pytest.raises(ValueError, match="needs stage 'full'"):
        TrainConfig(vision_pretrain_steps=10, stage="stage1")

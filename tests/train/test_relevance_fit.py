"""Fitting the relevance head alone (``vistakit.train.relevance_fit``, ``vistakit fit-relevance``): it learns its
map targets, touches no other weight, and refuses what it cannot use."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from vistakit.cli import main
from vistakit.data.dataset import RecordDataset
from vistakit.data.record import read_records
from vistakit.data.shapesworld.generate import GenerateConfig, generate_split
from vistakit.model import create_model, make_config
from vistakit.train.relevance_fit import fit_head, head_inputs, head_loss, map_hits, select_records

GROUND = dict(ground_questions=("position", "size"), question_grounding="objects", relation_rate=0.8)


@pytest.fixture(scope="module")
def comparisons(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp")
    generate_split(out, GenerateConfig(split="train", n=40, seed=3, tasks=("vqa", "rec"),
                                       question_kinds=(("position", 1.0), ("size", 1.0)), **GROUND))  # fmt: skip
    generate_split(out, GenerateConfig(split="val", n=12, seed=3, tasks=("vqa", "rec"), **GROUND))
    return out


@pytest.fixture(scope="module")
def relations_ckpt(comparisons, tmp_path_factory):
    torch.manual_seed(0)
    texts = [t for r in read_records(comparisons / "train.jsonl") for t in (r.prompt, r.answer)]
    config = make_config("micro", ["image_tokenizer.relations=true"])
    model, processor = create_model(config, texts, vocab_size=300)
    return model.save_pretrained(tmp_path_factory.mktemp("ckpt") / "micro-rel", processor)


def test_select_records_takes_comparisons_then_rec_and_res(comparisons):
    records = list(RecordDataset(comparisons / "train.jsonl"))
    got = select_records(records, comparisons=5, rec=3)
    assert [r.task for r in got] == ["vqa"] * 5 + ["rec"] * 3
    assert all(r.meta["anchor_mask"] is not None for r in got[:5])
    with pytest.raises(ValueError, match="no VQA records with both meta.grounding_mask and meta.anchor_mask"):
        select_records([r for r in records if r.task == "rec"], comparisons=5, rec=3)


def test_fit_head_learns_the_maps_and_leaves_the_original_alone(comparisons, relations_ckpt, one_thread):
    from vistakit.model.loading import load_pretrained

    model, processor = load_pretrained(relations_ckpt)
    data = head_inputs(model, processor, select_records(list(RecordDataset(comparisons / "train.jsonl")), 20, 4))
    assert int(data["cmp"].sum()) == 20 and len(data["cmp"]) == 24
    head = model.image_tokenizer.relevance
    before = {k: v.clone() for k, v in head.state_dict().items()}
    everything = torch.arange(len(data["cmp"]))
    start = head_loss(head, torch.zeros(()), data, everything).item()
    logged = []
    fitted = fit_head(head, data, steps=60, lr=1e-2, batch_size=8, log=lambda s, v, h: logged.append((s, v)))
    assert logged and logged[-1][0] == 60
    assert head_loss(fitted, torch.zeros(()), data, everything).item() < 0.8 * start
    assert all(torch.equal(v, head.state_dict()[k]) for k, v in before.items())  # a copy was trained
    hits = map_hits(fitted, data)
    assert hits.n == 20 and all(0.0 <= x <= 1.0 for x in (hits.a, hits.a_on_b, hits.b, hits.b_on_a))
    with pytest.raises(ValueError, match="fit_head needs steps >= 1"):
        fit_head(head, data, steps=0)


def test_fit_relevance_command_changes_only_the_head(comparisons, relations_ckpt, tmp_path, capsys, one_thread):
    out = tmp_path / "fit"
    rc = main(["fit-relevance", "--checkpoint", str(relations_ckpt), "--data", str(comparisons), "--out", str(out),
               "--comparisons", "10", "--rec", "2", "--steps", "20", "--batch-size", "4"])  # fmt: skip
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "fitting the relevance head on 10 comparison questions + 2 REC / RES records" in text
    assert "val:" in text and (out / "fit_relevance.json").is_file()
    old, new = load_file(relations_ckpt / "model.safetensors"), load_file(out / "model.safetensors")
    assert old.keys() == new.keys()
    changed = {k for k in old if not torch.equal(old[k], new[k])}
    assert changed and all(k.startswith("image_tokenizer.relevance.") for k in changed)
    # a second run into the same folder is refused, not overwritten
    assert main(["fit-relevance", "--checkpoint", str(relations_ckpt), "--data", str(comparisons),
                 "--out", str(out)]) == 2  # fmt: skip
    assert "exists and is not empty" in capsys.readouterr().err


def test_fit_relevance_errors_are_one_line(comparisons, relations_ckpt, save_micro_model, tmp_path, capsys):
    micro_ckpt = save_micro_model(comparisons / "train.jsonl")  # no relation term
    args = ["--data", str(comparisons), "--out", str(tmp_path / "x")]
    assert main(["fit-relevance", "--checkpoint", str(micro_ckpt), *args]) == 2
    assert "no relevance head with a relation term" in capsys.readouterr().err
    assert main(["fit-relevance", "--checkpoint", str(relations_ckpt), *args, "--split", "test"]) == 2
    assert "no split 'test'" in capsys.readouterr().err

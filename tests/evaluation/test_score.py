"""``vistakit score``: gold records vs prediction files, structured fields, warnings and the --json line."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from vistakit.cli import main
from vistakit.data import Record, Targets, write_records
from vistakit.evaluation.score import format_table, score_files
from vistakit.geometry import Mask, SequenceGrammar
from vistakit.tasks import get_task

SIZE = (200, 100)
BOXES = {"a": [10, 10, 90, 80], "b": [100, 20, 190, 90], "c": [0, 0, 60, 60]}


@pytest.fixture
def gold(tmp_path):
    recs = [Record(i, "rec", ["x.png"], [SIZE], "<image>\nWhere is it?", targets=Targets(boxes=[b]))
            for i, b in BOXES.items()]  # fmt: skip
    recs.append(Record("v", "vqa", ["x.png"], [SIZE], "<image>\nq", targets=Targets(answers=["red"])))
    path = tmp_path / "gold.jsonl"
    write_records(path, recs)
    return path


def write_preds(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def answer_for(box):
    return get_task("rec").build_answer(Targets(boxes=[box]), [SIZE], SequenceGrammar(1000))


def test_text_and_structured_predictions(gold, tmp_path):
    preds = write_preds(tmp_path / "p.jsonl", [
        {"id": "a", "answer": answer_for(BOXES["a"])},                      # right, parsed from text
        {"id": "b", "answer": answer_for(BOXES["c"]), "boxes": [BOXES["b"]]},  # structured field wins: right
        {"id": "zzz", "answer": "<box></box>"},                             # unknown id: warned, ignored
    ])  # fmt: skip
    report = score_files("rec", gold, preds)
    assert report.n_gold == 3 and report.missing == ["c"] and report.unknown == ["zzz"]
    assert report.metrics["acc50"] == pytest.approx(2 / 3)  # the missing one counts as wrong
    warnings = "\n".join(report.warnings())
    assert "1 gold record(s) have no prediction and count as wrong" in warnings and "zzz" in warnings
    assert format_table(report)[0].startswith("task rec: 3 gold record(s)")


def test_bad_prediction_files_name_the_line(gold, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "answer": "x"}\n{"answer": "y"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:line 2: expected an object with a string 'id'"):
        score_files("rec", gold, bad)
    bad.write_text('{"id": "a", "boxes": [[5, 5, 1, 1]]}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:line 1: bad structured prediction"):
        score_files("rec", gold, bad)
    bad.write_text('{"id": "a", "answer": "x"}\n{"id": "a", "answer": "x"}\n')
    with pytest.raises(ValueError, match="already predicted"):
        score_files("rec", gold, bad)
    with pytest.raises(ValueError, match="no gold records of task 'res'"):
        score_files("res", gold, write_preds(tmp_path / "ok.jsonl", []))


def test_structured_masks_for_res(tmp_path):
    m = np.zeros((SIZE[1], SIZE[0]), bool)
    m[10:60, 20:120] = True
    rle = Mask(m).to_rle()
    gold = tmp_path / "g.jsonl"
    write_records(gold, [Record("m", "res", ["x.png"], [SIZE], "<image>\nseg", targets=Targets(masks=[rle]))])
    report = score_files("res", gold, write_preds(tmp_path / "p.jsonl", [{"id": "m", "masks": [rle]}]))
    assert report.metrics == {"ciou": 1.0, "giou": 1.0}


def test_cli_json_last_line(gold, tmp_path, capsys):
    preds = write_preds(tmp_path / "p.jsonl", [{"id": k, "answer": answer_for(b)} for k, b in BOXES.items()])
    assert main(["score", "--task", "rec", "--gold", str(gold), "--pred", str(preds), "--json"]) == 0
    captured = capsys.readouterr()
    metrics = json.loads(captured.out)  # stdout is the JSON alone; the table goes to stderr
    assert metrics == {"acc50": 1.0, "acc75": 1.0, "center_acc": 1.0}
    assert any(line.startswith("acc50") for line in captured.err.splitlines())


def test_cli_reports_bad_input_in_one_line(gold, tmp_path, capsys):
    code = main(["score", "--task", "nope", "--gold", str(gold), "--pred", str(gold)])
    assert code == 2
    err = capsys.readouterr().err
    assert "unknown task 'nope'; known:" in err and "Traceback" not in err


def test_nan_is_written_as_null(tmp_path):
    gold = tmp_path / "g.jsonl"
    write_records(gold, [Record("n", "grec", ["x.png"], [SIZE], "<image>\nq", targets=Targets(boxes=[]))])
    report = score_files("grec", gold, write_preds(tmp_path / "p.jsonl", [{"id": "n", "answer": "<none>"}]))
    assert math.isnan(report.metrics["t_acc"]) and report.json_metrics()["t_acc"] is None
    assert report.metrics["n_acc"] == 1.0


def test_by_scores_each_group_of_a_meta_key(tmp_path, capsys):
    recs = [Record(i, "rec", ["x.png"], [SIZE], "<image>\nWhere is it?", targets=Targets(boxes=[b]),
                   meta={"expression_kind": kind} if kind else {})
            for (i, b), kind in zip(BOXES.items(), ["attributes", "relation", None])]  # fmt: skip
    gold = tmp_path / "gold.jsonl"
    write_records(gold, recs)
    preds = write_preds(tmp_path / "p.jsonl", [
        {"id": "a", "answer": answer_for(BOXES["a"])},  # right
        {"id": "b", "answer": answer_for(BOXES["c"])},  # wrong
        {"id": "c", "answer": answer_for(BOXES["c"])},  # right
    ])  # fmt: skip
    report = score_files("rec", gold, preds, by="expression_kind")
    assert report.metrics["acc50"] == pytest.approx(2 / 3)
    assert {k: m["acc50"] for k, m in report.groups.items()} == {"(none)": 1.0, "attributes": 1.0, "relation": 0.0}
    assert report.group_sizes == {"(none)": 1, "attributes": 1, "relation": 1}
    assert any(line.startswith("relation") and "acc50=0.0000" in line for line in format_table(report))
    assert score_files("rec", gold, preds).groups == {}
    assert main(["score", "--task", "rec", "--gold", str(gold), "--pred", str(preds), "--by", "expression_kind",
                 "--json"]) == 0  # fmt: skip
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["acc50"] == pytest.approx(2 / 3) and last["by"]["relation"]["acc50"] == 0.0
    with pytest.raises(ValueError, match="no rec record has meta key 'kind' to group by; its records have: "
                                         "expression_kind"):  # fmt: skip
        score_files("rec", gold, preds, by="kind")

"""``vistakit eval`` through the CLI table with a micro checkpoint written by the fixture."""

import json

from vistakit.cli import main
from vistakit.commands import _model_args


def test_eval_prints_a_table_and_writes_json_and_predictions(sw_small, micro_ckpt, tmp_path, capsys, one_thread):
    rc = main(["eval", "--data", str(sw_small), "--checkpoint", str(micro_ckpt), "--split", "test",
               "--tasks", "rec,which_image", "--limit", "2", "--max-new-tokens", "6", "--batch-size", "2",
               "--json", str(tmp_path / "m.json"), "--predictions", str(tmp_path / "preds")])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0, out
    rows = {line.split()[0]: line for line in out.splitlines()}
    assert "acc50=" in rows["rec"] and "accuracy=" in rows["which_image"]
    js = json.loads((tmp_path / "m.json").read_text())
    # {task: {metric: value}}, with the metric names of `vistakit score`
    assert set(js) == {"rec", "which_image"} and set(js["rec"]) == {"acc50", "acc75", "center_acc"}
    assert len((tmp_path / "preds" / "rec.jsonl").read_text().splitlines()) == 2
    assert "vistakit score --bins 64" in out


def test_eval_errors(sw_small, micro_ckpt, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(_model_args, "REFERENCE", tmp_path / "no_reference")
    assert main(["eval", "--data", str(sw_small)]) == 2
    err = capsys.readouterr().err
    assert "no shipped reference model" in err and "vistakit train --preset tiny" in err
    assert main(["eval", "--data", str(sw_small), "--checkpoint", str(tmp_path)]) == 2
    assert "no config.json" in capsys.readouterr().err
    assert main(["eval", "--data", str(sw_small), "--checkpoint", str(micro_ckpt), "--split", "val"]) == 2
    assert "no split 'val'" in capsys.readouterr().err
    assert main(["eval", "--data", str(sw_small), "--checkpoint", str(micro_ckpt), "--tasks", "res"]) == 2
    assert "no records of task(s) ['res']" in capsys.readouterr().err

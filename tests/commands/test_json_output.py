"""Every ``--json`` of the CLI prints JSON alone on stdout (tables and summaries go to stderr), so
``vistakit … --json | jq`` works."""

import json

import pytest

from vistakit.cli import main
from vistakit.data.record import Record, Targets, write_records
from vistakit.paths import shared_data_dir


def _only_json(capsys) -> tuple[object, str]:
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err  # raises if anything but one JSON document is on stdout


@pytest.fixture
def coco_file(tmp_path):
    coco = {"images": [{"id": 1, "width": 30, "height": 20}],
            "annotations": [{"id": 1, "image_id": 1, "segmentation": [[2, 2, 20, 2, 20, 15, 2, 15]]}]}  # fmt: skip
    path = tmp_path / "inst.json"
    path.write_text(json.dumps(coco))
    return path


def test_bench_codec_json_is_alone_on_stdout(coco_file, capsys):
    assert main(["bench", "codec", "--data", str(coco_file), "--points", "8", "--repeats", "1", "--json"]) == 0
    out, err = _only_json(capsys)
    assert out["masks"] == 1 and "sampler" in err  # the table went to stderr
    assert main(["bench", "codec", "--data", str(coco_file), "--points", "8", "--repeats", "1"]) == 0
    assert "sampler" in capsys.readouterr().out  # without --json the table is on stdout


def test_score_json_with_bootstrap_is_alone_on_stdout(tmp_path, capsys):
    gold, pred = tmp_path / "g.jsonl", tmp_path / "p.jsonl"
    write_records(gold, [Record(f"r{i}", "which_image", ["a.png", "b.png"], [(8, 8), (8, 8)], "<image><image>q",
                                targets=Targets(image_ids=[i % 2])) for i in range(12)])  # fmt: skip
    pred.write_text("".join(json.dumps({"id": f"r{i}", "answer": "<img_0>"}) + "\n" for i in range(12)))
    assert main(["score", "--task", "which_image", "--gold", str(gold), "--pred", str(pred), "--json",
                 "--bootstrap", "20"]) == 0  # fmt: skip
    out, err = _only_json(capsys)
    assert out["accuracy"] == 0.5 and "accuracy" in out["bootstrap"]
    assert "accuracy" in err


def test_data_convert_json_is_alone_on_stdout(tmp_path, capsys):
    try:
        zip_ = shared_data_dir() / "visual_genome" / "region_descriptions_v1.2.0_dummy_data.zip"
    except FileNotFoundError:
        pytest.skip("shared/data is not available")
    assert main(["data", "convert", "--from", "visual-genome", "--annotations", str(zip_), "--out",
                 str(tmp_path / "vg"), "--limit", "3", "--split", "val", "--json"]) == 0  # fmt: skip
    out, err = _only_json(capsys)
    assert out["splits"] == {"val": 3} and "val: 3 records" in err


def test_eval_json_dash_is_alone_on_stdout(sw_small, micro_ckpt, capsys, one_thread):
    assert main(["eval", "--data", str(sw_small), "--checkpoint", str(micro_ckpt), "--tasks", "which_image",
                 "--limit", "2", "--max-new-tokens", "3", "--no-progress", "--json", "-"]) == 0  # fmt: skip
    out, err = _only_json(capsys)
    assert set(out) == {"which_image"} and "accuracy=" in err


def test_predict_json_is_alone_on_stdout(sw_small, micro_ckpt, capsys, one_thread):
    image = next((sw_small / "images").rglob("*.png"))
    assert main(["predict", "--checkpoint", str(micro_ckpt), "--image", str(image), "--prompt", "What is it?",
                 "--max-new-tokens", "3", "--json"]) == 0  # fmt: skip
    out, _ = _only_json(capsys)
    assert "answer" in out

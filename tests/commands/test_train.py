"""``vistakit train`` through the CLI table: a short run, a resumed run with the saved settings, clear errors."""

import json

from vistakit.cli import main


def test_train_then_resume_with_saved_settings(sw_small, micro_overrides, tmp_path, capsys, one_thread):
    out = tmp_path / "run"
    model = [f"model.{o}" for o in micro_overrides]
    rc = main(["train", "--preset", "tiny", "--data", str(sw_small), "--out", str(out), "--tasks", "rec,vqa",
               "--no-progress", "steps=3", "batch_size=2", "save_every=3", "eval_every=0", "tensorboard=false",
               "tokenizer_vocab=300", *model])  # fmt: skip
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "mixture (records, weight): rec" in text and "trained to step 3" in text
    assert "step 3/3: loss " in text  # --no-progress prints a line per logged step
    assert (out / "config.json").is_file() and (out / "train" / "curves.png").is_file()
    saved = json.loads((out / "train" / "train_config.json").read_text())
    assert saved["tasks"] == ["rec", "vqa"] and saved["steps"] == 3
    # --resume alone reuses the run's settings; a later override raises the step budget
    rc = main(["train", "--out", str(out), "--resume", "--no-progress", "steps=4"])
    text = capsys.readouterr().out
    assert rc == 0 and "resuming at step 3" in text and "trained to step 4" in text


def test_train_errors_are_one_line(sw_small, tmp_path, capsys):
    assert main(["train", "--data", str(sw_small), "--out", str(tmp_path / "x"), "stepz=3"]) == 2
    assert "unknown train setting 'stepz'" in capsys.readouterr().err
    assert main(["train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "y")]) == 2
    assert "no 'train' split in the data folder" in capsys.readouterr().err
    assert main(["train", "--data", str(sw_small), "--out", str(tmp_path / "z"), "--preset", "huge"]) == 2
    assert "unknown model preset 'huge'" in capsys.readouterr().err


def test_the_eval_hint_names_a_split_the_data_has(tmp_path):
    from vistakit.commands.train import _eval_hint

    (tmp_path / "train2017.jsonl").write_text("")
    hint = _eval_hint(str(tmp_path), "val", "train2017", tmp_path / "run")
    assert "--split train2017" in hint and "no 'val' split" in hint
    (tmp_path / "val.jsonl").write_text("")
    assert _eval_hint(str(tmp_path), "val", "train2017", tmp_path / "run").endswith("--split val")

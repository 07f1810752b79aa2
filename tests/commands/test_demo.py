"""``vistakit demo``: fresh scenes → model → overlays and a results table (with an untrained micro model)."""

from vistakit.cli import main


def test_demo_writes_overlays_and_table(micro_ckpt, tmp_path, capsys, one_thread):
    out = tmp_path / "demo"
    rc = main(["demo", "--checkpoint", str(micro_ckpt), "--out", str(out), "--per-task", "1",
               "--tasks", "rec,which_image", "--max-new-tokens", "12"])  # fmt: skip
    assert rc == 0
    assert sorted(p.name for p in (out / "overlays").iterdir()) == ["rec_0.png", "which_image_0.png"]
    table = (out / "results.md").read_text()
    assert "rec" in table and "which_image" in table
    assert "2 overlays" in capsys.readouterr().out


def test_demo_refuses_bad_counts(micro_ckpt, tmp_path, capsys):
    assert main(["demo", "--checkpoint", str(micro_ckpt), "--out", str(tmp_path), "--per-task", "0"]) == 2
    assert "--per-task" in capsys.readouterr().err

"""``vistakit demo``: fresh scenes → model → overlays and a results table (with an untrained micro model)."""

from PIL import Image

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
    with Image.open(out / "overlays" / "which_image_0.png") as im:  # 16-pixel scenes, enlarged to be readable
        assert min(im.size) >= 384
    gallery = (out / "gallery.html").read_text()  # one figure per example: prompt, answer, expected, overlay
    assert gallery.count("<figure>") == 2 and "<h2>rec</h2>" in gallery and "<h2>which_image</h2>" in gallery
    assert 'src="overlays/rec_0.png"' in gallery and "<b>Expected</b>" in gallery and "Image 1: " in gallery


def test_demo_refuses_bad_counts(micro_ckpt, tmp_path, capsys):
    assert main(["demo", "--checkpoint", str(micro_ckpt), "--out", str(tmp_path), "--per-task", "0"]) == 2
    assert "--per-task" in capsys.readouterr().err

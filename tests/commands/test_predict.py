"""``vistakit predict`` through the CLI table: typed results in original pixels, JSON, overlay, errors."""

import json

import pytest
from PIL import Image

from vistakit.cli import main
from vistakit.model import Engine
from vistakit.model.engine import GenerationResult


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "wide.png"
    Image.new("RGB", (80, 40), (0, 0, 0)).save(path)  # not square: original px = normalised × 80
    return path


def test_predict_reports_original_pixels(micro_ckpt, image, tmp_path, capsys, monkeypatch, one_thread):
    seen = {}

    def fake_generate(self, images, prompts, visual_prompts=None, **gen):
        seen.update(prompts=prompts, regions=visual_prompts, gen=gen)
        # 64 bins: <loc_8> → (8.5 / 64) × 80 px = 10.625 px
        text = "<p>thing</p><box><loc_8><loc_4><loc_24><loc_12></box>"
        return [GenerationResult(text, loc_scores=[0.8, 0.6, 1.0, 1.0])]

    monkeypatch.setattr(Engine, "generate", fake_generate)
    rc = main(
        [
            "predict",
            "--checkpoint",
            str(micro_ckpt),
            "--image",
            str(image),
            "--prompt",
            "Where is <region>?",
            "--region",
            "4,4,20,20",
            "--task",
            "rec",
            "--json",
            "--out",
            str(tmp_path / "o.png"),
            "--beams",
            "2",
        ]
    )
    assert rc == 0
    js = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert seen["prompts"] == ["<image>\nWhere is <region>?"] and seen["regions"][0][0].box == [4, 4, 20, 20]
    assert seen["gen"] == {"max_new_tokens": 256, "num_beams": 2, "constrained": True}
    assert js["boxes"] == [[10.62, 5.62, 30.62, 15.62]] and js["labels"] == ["thing"]
    assert js["scores"] == [pytest.approx(0.85)] and js["image_sizes"] == [[80, 40]]
    assert Image.open(tmp_path / "o.png").size[0] > 0
    # text mode without a task: every location is read
    rc = main(["predict", "--checkpoint", str(micro_ckpt), "--image", str(image), "--prompt", "Find it"])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0 and out[0].startswith("<p>thing</p><box>") and out[1] == "results in original pixels:"
    assert out[2] == "  box 0: Image 1, 'thing', [10.6, 5.6, 30.6, 15.6], score 0.850"


def test_predict_runs_the_real_model(micro_ckpt, image, tmp_path, capsys, one_thread):
    rc = main(["predict", "--checkpoint", str(micro_ckpt), "--image", str(image), "--image", str(image),
               "--prompt", "Which image has a star?", "--max-new-tokens", "5", "--json"])  # fmt: skip
    assert rc == 0
    js = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert js["image_sizes"] == [[80, 40], [80, 40]] and isinstance(js["answer"], str)


def test_predict_errors(micro_ckpt, image, tmp_path, capsys):
    args = ["predict", "--checkpoint", str(micro_ckpt), "--image", str(image)]
    assert main(args + ["--prompt", "<image> <image> two?"]) == 2
    assert "2 <image> placeholder(s) for 1 image(s)" in capsys.readouterr().err
    assert main(args + ["--prompt", "x", "--task", "nope"]) == 2
    assert "unknown task 'nope'" in capsys.readouterr().err
    assert main(args + ["--prompt", "x", "--region", "5:1,2"]) == 2
    assert "out of range" in capsys.readouterr().err
    assert main(args + ["--prompt", "x", "--masks", "decoder"]) == 2  # the micro model has no mask decoder
    assert "needs a model trained with the mask decoder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(args + ["--prompt", "x", "--region", "1,2,3"])
    assert "expected 2 (point) or 4 (box) numbers" in capsys.readouterr().err


def test_bad_images_are_one_line_errors_with_the_same_pixel_limit_as_the_server(micro_ckpt, image, tmp_path, capsys):
    full = image.read_bytes()
    (tmp_path / "cut.png").write_bytes(full[: len(full) // 2])
    (tmp_path / "text.png").write_text("not an image\n")
    base = ["predict", "--checkpoint", str(micro_ckpt), "--prompt", "x", "--image"]
    for name, words in (("cut.png", "corrupt or truncated"), ("text.png", "not a readable image file")):
        assert main(base + [str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and name in err and words in err and "Traceback" not in err
    assert main(base + [str(image), "--max-image-pixels", "3199"]) == 2  # the image is 80x40
    assert "80x40 = 3200 pixels; the limit is 3199" in capsys.readouterr().err


def test_predict_reads_an_exif_rotated_jpeg_upright_and_draws_on_it(micro_ckpt, tmp_path, capsys, monkeypatch):
    """The same upright frame as the server and the Python API: sizes, coordinates and the overlay."""
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 80×40, displayed (and read) 40×80
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (80, 40), (0, 0, 0)).save(photo, exif=exif.tobytes())
    seen = {}

    def fake_generate(self, images, prompts, visual_prompts=None, **gen):
        seen["shape"] = images[0][0].shape
        return [GenerationResult("<p>thing</p><box><loc_8><loc_4><loc_24><loc_12></box>", loc_scores=[1.0] * 4)]

    monkeypatch.setattr(Engine, "generate", fake_generate)
    out = tmp_path / "o.png"
    rc = main(["predict", "--checkpoint", str(micro_ckpt), "--image", str(photo), "--prompt", "Where?", "--task",
               "rec", "--json", "--out", str(out)])  # fmt: skip
    js = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rc == 0 and seen["shape"] == (80, 40, 3) and js["image_sizes"] == [[40, 80]]
    # 64 bins over the longer side (80 px, now the height): <loc_4> → y = 4.5 / 64 × 80 = 5.625
    assert js["boxes"] == [[10.62, 5.62, 30.62, 15.62]] and js["overlay"] == str(out)
    with Image.open(out) as overview:  # the overview cell still: the image, the box in red, the text below
        assert overview.size == (288, 288) and (255, 60, 60) in {c for _, c in overview.getcolors(1 << 16)}

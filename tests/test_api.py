"""``vistakit.Vista``: loading, one call → a typed result in original pixels, regions as typed geometry, the
batched form (one generation call per setting), JSON and drawing, and clear errors on bad requests."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from vistakit import Request, Result, Vista, api, paths
from vistakit.commands import _model_args
from vistakit.data.record import VisualPrompt
from vistakit.geometry import Boxes, Frame, Mask, Points, Space
from vistakit.model import Engine, GenerationResult, create_model, make_config
from vistakit.model.processor import to_rgb_array
from vistakit.serve.images import read_image_bytes
from vistakit.serve.settings import ServeSettings

TEXTS = ["<image>\nWhere is the red circle?", "<p>red circle</p><box><loc_1><loc_2><loc_5><loc_6></box>",
         "Image 1: <image>\nImage 2: <image>\nWhich image?", "<img_1>", "Describe <region>."] * 4  # fmt: skip


class ScriptedEngine(Engine):
    """Answers ``answers[i % n]`` for the i-th sample of each call (no model run) and records every call."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.answers = ["<p>thing</p><box><loc_8><loc_4><loc_24><loc_12></box>"]
        self.loc_scores = [0.8, 0.6, 1.0, 1.0]
        self.calls = []

    def generate(self, images, prompts, visual_prompts=None, **gen):
        self.calls.append({"prompts": list(prompts), "regions": visual_prompts, "gen": gen})
        texts = [self.answers[i % len(self.answers)] for i in range(len(prompts))]
        return [GenerationResult(t, [1] * 9, [0.5] * 9, self.loc_scores[: t.count("<loc_")]) for t in texts]


@pytest.fixture(scope="module")
def parts():
    torch.manual_seed(0)
    model, processor = create_model(make_config("micro"), TEXTS, vocab_size=300)
    return model.eval(), processor


@pytest.fixture
def vista(parts):
    return Vista(Engine(*parts), "micro")


@pytest.fixture
def scripted(parts):
    return Vista(ScriptedEngine(*parts), "scripted")


@pytest.fixture
def wide():
    return np.random.default_rng(0).integers(0, 256, (40, 80, 3), dtype=np.uint8)  # 80×40: W ≠ H


def test_from_pretrained_loads_the_reference_model_and_refuses_other_folders(tmp_path):
    vista = Vista.from_pretrained(device="cpu")
    assert vista.name == "reference" and str(vista.engine.device) == "cpu" and vista.max_images == 4
    with pytest.raises(FileNotFoundError, match="has no config.json, so it is not a vistakit checkpoint folder"):
        Vista.from_pretrained(tmp_path)


def test_predict_gives_typed_results_in_original_pixels(scripted, wide):
    r = scripted.predict(wide, "Where is the thing?", task="rec")
    assert isinstance(r, Result) and r.text == "thing" and r.task == "rec" and r.image_sizes == [(80, 40)]
    # 64 bins on an 80×40 image: <loc_8> → (8.5 / 64) × 80 = 10.625 px
    np.testing.assert_allclose(r.boxes, [[10.625, 5.625, 30.625, 15.625]])
    assert r.labels == ["thing"] and r.image_ids == [0] and r.scores.tolist() == pytest.approx([0.85])
    assert r.loc_scores == [0.8, 0.6, 1.0, 1.0] and not r.empty and r.problems == []
    assert r.prompt == "<image>\nWhere is the thing?" and r.prompt_tokens > 5 and r.completion_tokens == 9
    assert scripted.engine.calls[0]["gen"] == {"max_new_tokens": 256, "num_beams": 1, "constrained": True}


def test_images_as_paths_pil_or_arrays_give_the_same_result(vista, wide, tmp_path):
    path = tmp_path / "wide.png"
    Image.fromarray(wide).save(path)
    answers = {vista.predict(im, "Where?", max_new_tokens=6).answer for im in (wide, Image.fromarray(wide), path)}
    assert len(answers) == 1


def test_masks_points_and_to_json(scripted, wide):
    scripted.engine.answers = [("<p>blob</p><mask><poly><loc_8><loc_4><loc_24><loc_4><loc_24><loc_12></poly></mask>"
                               "<p>dot</p><point><loc_32><loc_16></point>")]  # fmt: skip
    r = scripted.predict(wide, "Segment the blob and point at the dot.")
    assert len(r.masks) == 1 and isinstance(r.masks[0], Mask) and r.masks[0].array.shape == (40, 80)
    assert r.masks[0].area() > 0 and r.points.shape == (1, 2) and r.labels == ["blob", "dot"]
    out = r.to_json()
    assert set(out) == {"text", "answer", "task", "image_sizes", "boxes", "masks", "points", "keypoints", "image_ids",
                        "labels", "scores", "loc_scores", "empty", "problems", "warnings"}  # fmt: skip
    assert out["masks"][0]["size"] == [40, 80] and isinstance(out["masks"][0]["counts"], str)
    assert Mask.from_rle(out["masks"][0]).array.sum() == r.masks[0].area()
    np.testing.assert_allclose(out["points"], [[32.5 / 64 * 80, 16.5 / 64 * 80]], atol=0.01)
    assert out["boxes"] == [] and out["image_sizes"] == [[80, 40]]


def test_draw_gives_one_full_resolution_overlay_per_image(scripted, wide):
    scripted.engine.answers = [
        "<p>thing</p><box><loc_8><loc_4><loc_24><loc_12></box><img_1><point><loc_32><loc_32></point>"
    ]
    narrow = wide[:, :40].copy()
    r = scripted.predict(
        [wide, narrow], "Where is the thing?", regions=[{"type": "box", "image": 1, "box": [2, 2, 12, 12]}]
    )
    first, second = r.draw()
    assert first.size == (80, 40) and second.size == (40, 40)  # the originals' resolution, no overview layout
    first, second = np.asarray(first), np.asarray(second)
    changed = (first != wide).any(-1)
    # the box (10.6, 5.6)–(30.6, 15.6) in red; its caption below it (no room above), never over the object;
    # the rest: the original pixels
    red = (first == np.array([255, 60, 60])).all(-1)
    assert red[5:17, 10:31].any() and red[16:30, 10:40].any() and not changed[32:].any()
    assert not changed[8:14, 12:29].any()  # inside the box: untouched
    assert not changed[:, 75:].any()
    moved = np.argwhere((second != narrow).any(-1))
    # image 1: the point at (20.3, 20.3) and the white region box, nothing else
    near_point = (np.abs(moved - [20, 20]) <= 4).all(-1)
    in_region = ((moved >= 1) & (moved <= 13)).all(-1)
    assert near_point.any() and in_region.any() and (near_point | in_region).all()
    assert (second[2, 2:12] == 255).all()  # the region's top edge
    with pytest.raises(ValueError, match="no images to draw on"):
        Result(text="", answer="", task=None, image_sizes=[]).draw()


def test_draw_frames_the_image_a_which_image_answer_picked(scripted, wide):
    scripted.engine.answers = ["<img_1>"]
    first, second = (np.asarray(im) for im in scripted.predict([wide, wide], "Which image?").draw())
    np.testing.assert_array_equal(first, wide)
    assert (second[0] == [0, 255, 0]).all() and (second[-1] == [0, 255, 0]).all()
    np.testing.assert_array_equal(second[5:-5, 5:-5], wide[5:-5, 5:-5])


def test_an_exif_rotated_jpeg_gives_the_same_upright_pixels_through_every_door(scripted, tmp_path):
    stored = np.zeros((20, 60, 3), np.uint8)
    stored[:, :20] = (255, 0, 0)  # red left third; orientation 6 turns it a quarter clockwise to display
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    Image.fromarray(stored).save(path, exif=exif.tobytes(), quality=95)
    upright = to_rgb_array(path)
    assert upright.shape == (60, 20, 3)  # H×W: the displayed portrait
    assert upright[:15, :, 0].mean() > 200 and upright[-15:, :, 0].mean() < 50  # the red third on top
    with Image.open(path) as im:
        np.testing.assert_array_equal(to_rgb_array(im), upright)
        np.testing.assert_array_equal(np.asarray(ImageOps.exif_transpose(im).convert("RGB")), upright)
    np.testing.assert_array_equal(read_image_bytes(path.read_bytes(), ServeSettings(), "x"), upright)
    r = scripted.predict(path, "Where is the thing?")
    assert r.image_sizes == [(20, 60)] and r.draw()[0].size == (20, 60)
    np.testing.assert_array_equal(r.images[0], upright)


def test_the_reference_checkpoint_has_one_home():
    assert (paths.REFERENCE_CHECKPOINT / "config.json").is_file()
    assert _model_args.REFERENCE is paths.REFERENCE_CHECKPOINT is api.REFERENCE_CHECKPOINT
    assert _model_args.checkpoint_path(None) == paths.REFERENCE_CHECKPOINT


def test_the_reference_checkpoint_fits_its_budget_with_its_curves():
    """The issue's budget: the shipped folder, curves and logs included, at most 25 MB; every training stage's curves
    and log beside the weights."""
    folder = paths.REFERENCE_CHECKPOINT
    assert sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) <= 25_000_000
    for stage in ("", "mask_decoder_", "finetune_", "relations_", "anchor_", "comparisons_", "cq_"):
        assert (folder / f"{stage}curves.png").is_file() and (folder / f"{stage}train_log.jsonl").is_file()
    assert (folder / "fit_relevance.json").is_file() and (folder / "model.safetensors").is_file()


def test_regions_as_typed_geometry_visual_prompts_or_json(scripted, wide):
    want = [VisualPrompt("box", 0, box=[8.0, 4.0, 40.0, 20.0])]
    given = [
        Boxes([[8, 4, 40, 20]], Space(Frame.ORIGINAL, (80, 40))),
        Boxes([[0.1, 0.1, 0.5, 0.5]], Space(Frame.ORIGINAL, None, normalized=True)),  # scaled by image 0's size
        [VisualPrompt("box", 0, box=[8, 4, 40, 20])],
        [{"type": "box", "image": 0, "box": [8, 4, 40, 20]}],
    ]
    for regions in given:
        r = scripted.predict(wide, "Describe", regions=regions)
        assert r.regions == want and r.prompt == "<image>\nDescribe <region>"
    r = scripted.predict([wide, wide], "Compare <region> with <region>.",
                         regions=[Points([[3, 4]], Space(size=(80, 40))), {"type": "point", "image": 1, "point": [5, 6]}])  # fmt: skip
    assert [(v.type, v.image, v.point) for v in r.regions] == [("point", 0, [3.0, 4.0]), ("point", 1, [5.0, 6.0])]
    assert scripted.engine.calls[-1]["regions"][0] == r.regions


@pytest.mark.parametrize(
    ("regions", "error", "words"),
    [
        (Boxes([[1, 1, 5, 5]], Space(Frame.MODEL, (16, 16))), ValueError, "must be in the original image's frame"),
        (Boxes([[1, 1, 5, 5]], Space(size=(100, 50))), ValueError, "image 0 is 80x40"),
        ([{"type": "box", "image": 2, "box": [1, 1, 5, 5]}], ValueError, "visual prompt image 2 out of range 0..0"),
        ([{"type": "circle"}], ValueError, "visual prompt type must be one of"),
        ([(1, 2)], TypeError, "expected a VisualPrompt, its JSON dict, Boxes or Points"),
        ("box", TypeError, "must be a list of regions"),
    ],
)
def test_bad_regions_are_refused(scripted, wide, regions, error, words):
    with pytest.raises(error, match=words):
        scripted.predict(wide, "Describe <region>.", regions=regions)


def test_bad_requests_fail_before_the_model_runs(scripted, wide):
    cases = [
        ({"images": [wide] * 5, "prompt": "?"}, ValueError, "5 images; this model takes at most 4"),
        ({"images": wide, "prompt": "  "}, ValueError, "the prompt must be a non-empty string"),
        ({"images": wide, "prompt": "<image> <image>"}, ValueError, "2 <image> placeholder\\(s\\) for 1 image"),
        ({"images": wide, "prompt": "?", "task": "juggle"}, KeyError, "unknown task 'juggle'"),
        ({"images": wide, "prompt": "why " * 300}, ValueError, "this model holds 256 with the answer"),
        ({"images": wide.astype(np.float32), "prompt": "?"}, TypeError, "expected a uint8 array"),
        ({"images": "/no/such.png", "prompt": "?"}, FileNotFoundError, "no image file at /no/such.png"),
        ({"images": wide, "prompt": "?", "max_new_tokens": 0}, ValueError, "max_new_tokens must be a positive integer"),
    ]
    for kwargs, error, words in cases:
        with pytest.raises(error, match=words):
            scripted.predict_batch([Request(**kwargs)])
    with pytest.raises(TypeError, match=r"unknown generation setting\(s\) \['temperature'\]"):
        scripted.predict(wide, "?", temperature=0.5)
    with pytest.raises(ValueError, match="request 1: the prompt must be"):
        scripted.predict_batch([Request(wide, "fine"), Request(wide, "")])
    assert scripted.engine.calls == []


def test_predict_batch_runs_one_call_per_generation_setting(scripted, wide):
    requests = [Request(wide, "a"), Request([wide, wide], "b"), Request(wide, "c", num_beams=2), Request(wide, "d")]
    results = scripted.predict_batch(requests)
    assert [r.prompt.split("\n")[-1] for r in results] == ["a", "b", "c", "d"]
    calls = [(c["prompts"], c["gen"]["num_beams"]) for c in scripted.engine.calls]
    assert calls == [(["<image>\na", "Image 1: <image>\nImage 2: <image>\nb", "<image>\nd"], 1), (["<image>\nc"], 2)]
    assert results[1].image_sizes == [(80, 40), (80, 40)] and scripted.predict_batch([]) == []


def test_batched_answers_match_one_at_a_time(vista, wide):
    other = np.random.default_rng(1).integers(0, 256, (30, 20, 3), dtype=np.uint8)
    requests = [Request(wide, "Where is the red circle?", max_new_tokens=8),
                Request(other, "Which image?", max_new_tokens=8),
                Request([wide, other], "Which image?", max_new_tokens=8)]  # fmt: skip
    batched = [r.answer for r in vista.predict_batch(requests)]
    alone = [vista.predict_batch([r])[0].answer for r in requests]
    assert batched == alone
    r = vista.predict(wide, "Where?", max_new_tokens=3)
    assert r.finish_reason == "length" and r.completion_tokens == 3  # the untrained model never stops on its own


def test_the_python_example_in_docs_serving_runs(tmp_path, monkeypatch, capsys):
    """docs/serving.md's Python API example, run as written (the reference model, a few seconds on one core)."""
    docs = (Path(__file__).resolve().parents[1] / "docs" / "serving.md").read_text(encoding="utf-8")
    section = docs[docs.index("## Python API") :]
    example = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "docs/serving.md", "exec"), {"__name__": "docs_example"})  # noqa: S102
    printed = capsys.readouterr().out.strip().splitlines()
    assert json.loads(printed[-1])["task"] == "caption"
    with Image.open("scene.png") as scene, Image.open("overlay_0.png") as first, Image.open("overlay_1.png") as second:
        assert first.size == second.size == scene.size  # full resolution, one per input image


def test_bf16_precision_runs_generation_under_autocast(wide, monkeypatch):
    vista = Vista.from_pretrained(device="cpu", precision="bf16")
    seen = []
    generate = vista.engine.generate

    def spy(*args, **kwargs):
        seen.append(torch.is_autocast_enabled("cpu"))
        return generate(*args, **kwargs)

    monkeypatch.setattr(vista.engine, "generate", spy)
    result = vista.predict(wide, "Where is the red object?", task="rec", max_new_tokens=24)
    assert seen == [True] and isinstance(result.text, str)
    assert Vista.from_pretrained(device="cpu").precision == "fp32"
    with pytest.raises(ValueError, match="precision must be one of"):
        Vista.from_pretrained(device="cpu", precision="fp16")


def test_bad_image_files_are_one_line_value_errors_naming_the_file(scripted, tmp_path, monkeypatch):
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    Image.new("RGB", (64, 64), (9, 9, 9)).save(tmp_path / "full.png")
    full = (tmp_path / "full.png").read_bytes()
    files = {
        "truncated.png": (full[: len(full) // 2], "corrupt or truncated"),
        "notes.png": (b"not an image at all\n" * 5, "not a readable image file"),
        "bomb.png": (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 12000, 12000, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""),
                     "12000x12000 = 144000000 pixels; the limit is 16777216"),
    }  # fmt: skip
    for name, (data, words) in files.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError) as info:
            scripted.predict(tmp_path / name, "?")
        assert words in str(info.value) and name in str(info.value) and "\n" not in str(info.value)
    scripted.max_image_pixels = 64 * 64 - 1  # the same per-image limit as the server, configurable
    with pytest.raises(ValueError, match="64x64 = 4096 pixels; the limit is 4095"):
        scripted.predict(tmp_path / "full.png", "?")
    with pytest.raises(ValueError, match="the limit is 4095"):
        scripted.predict(Image.open(tmp_path / "full.png"), "?")
    scripted.max_image_pixels = None
    monkeypatch.setenv("VISTAKIT_MAX_IMAGE_PIXELS", "100")
    with pytest.raises(ValueError, match="the limit is 100"):
        scripted.predict(tmp_path / "full.png", "?")
    assert scripted.engine.calls == []

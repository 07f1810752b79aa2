import pytest
from PIL import Image

from vistakit.train.curves import _window, moving_average, plot_curves
from vistakit.train.log import RunLog, read_log


def _fill(folder, tensorboard=False, resume_step=None, steps=range(1, 31)):
    with RunLog(folder, tensorboard=tensorboard, resume_step=resume_step) as log:
        for s in steps:
            log.write("train", s, loss=5.0 / s, lr=1e-3, grad_norm=1.0, samples_per_s=10.0, fingerprint="x")
            if s % 10 == 0:
                log.write("val", s, loss=6.0 / s)
                log.write("metric", s, task="rec", metric="acc@0.5", value=s / 30)
    return folder / "log.jsonl"


def test_log_lines_and_resume_drops_later_entries(tmp_path):
    path = _fill(tmp_path)
    entries = list(read_log(path))
    assert sum(e["kind"] == "train" for e in entries) == 30
    _fill(tmp_path, resume_step=20, steps=range(21, 23))
    steps = [e["step"] for e in read_log(path) if e["kind"] == "train"]
    assert steps == list(range(1, 23))


def test_torn_last_line_is_skipped_but_bad_middle_line_raises(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"kind": "train", "step": 1, "loss": 1}\n{"kind": "tr')
    assert len(list(read_log(path))) == 1
    path.write_text('{"kind": "tr\n{"kind": "train", "step": 1}\n')
    with pytest.raises(ValueError, match="line 1"):
        list(read_log(path))


def test_tensorboard_events_written(tmp_path):
    _fill(tmp_path, tensorboard=True, steps=range(1, 11))
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))


def test_curves_png(tmp_path):
    path = _fill(tmp_path)
    png = plot_curves(path, tmp_path / "curves.png")
    img = Image.open(png)
    assert img.mode == "P"  # a palette PNG: half the bytes
    img = img.convert("RGB")
    assert img.width == 3 * 360 and img.height == 240  # loss, lr, one metric panel
    # the loss panel is not blank: the train curve's colour appears
    assert (120, 160, 230) in {c for _, c in img.crop((0, 0, 360, 240)).getcolors(100000)}


def test_moving_average():
    assert moving_average([1, 3, 5, 7, 9], 3).tolist() == [1, 3, 5, 7, 9]  # a straight line stays put: no lag
    assert moving_average([9, 1, 8, 2, 7], 3).tolist() == [9, 6, 11 / 3, 17 / 3, 7]  # ends are their own mean
    assert moving_average([4, 0, 4, 0, 4, 0, 4], 5).tolist()[3] == 8 / 5  # the full window in the middle: 0, 4, 0, 4, 0
    assert moving_average([], 3).tolist() == []
    assert moving_average([4, 0, 4], 2).tolist() == [4, 0, 4]  # an even window rounds down: never more than asked


def test_smoothing_window_follows_the_log_length():
    assert [_window(n, 20) for n in (0, 5, 67, 1000)] == [1, 1, 5, 19]  # odd, a tenth of the points, at most 20

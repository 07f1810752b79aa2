"""Bootstrap intervals of a metric and paired intervals of a difference (``vistakit score --bootstrap``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vistakit.cli import main
from vistakit.data import Record, Targets, write_records
from vistakit.geometry import Mask
from vistakit.evaluation.bootstrap import bootstrap_intervals, format_intervals
from vistakit.tasks import get_task
from vistakit.tasks.base import Prediction

SIZE = (64, 64)


def nlvr_records(n: int) -> list[Record]:
    return [Record(f"r{i}", "nlvr", ["a.png", "b.png"], [SIZE, SIZE], "<image><image>\nTrue?",
                   targets=Targets(answers=["true" if i % 2 else "false"])) for i in range(n)]  # fmt: skip


def answers(golds: list[Record], right: np.ndarray) -> list[Prediction]:
    """Predictions right where ``right`` is True, wrong elsewhere."""
    flip = {"true": "false", "false": "true"}
    return [Prediction(text=g.targets.answers[0] if ok else flip[g.targets.answers[0]]) for g, ok in zip(golds, right)]


def test_interval_brackets_the_value_and_narrows_with_more_records():
    task = get_task("nlvr")
    widths = []
    for n in (40, 400):
        golds = nlvr_records(n)
        right = np.arange(n) % 4 != 0  # accuracy 0.75
        (iv,) = bootstrap_intervals(task, golds, answers(golds, right), resamples=400, seed=1)
        assert iv.metric == "accuracy" and iv.value == pytest.approx(0.75)
        assert iv.low < 0.75 < iv.high and iv.base is None and iv.better is None
        widths.append(iv.high - iv.low)
    # the binomial standard error shrinks as 1/sqrt(n): ten times the records, about a third of the width
    assert widths[1] < 0.5 * widths[0]
    assert widths[1] == pytest.approx(2 * 1.96 * (0.75 * 0.25 / 400) ** 0.5, rel=0.3)


def test_paired_difference_sees_a_real_gap_and_no_gap():
    task = get_task("nlvr")
    golds = nlvr_records(300)
    base_right = np.arange(300) % 4 != 0  # 0.75
    better_right = base_right | (np.arange(300) % 8 == 0)  # fixes 38 of the base's 75 misses
    base, better = answers(golds, base_right), answers(golds, better_right)
    (iv,) = bootstrap_intervals(task, golds, better, resamples=300, base=base)
    assert iv.difference == pytest.approx(38 / 300) and iv.low > 0 and iv.better == 1.0
    (same,) = bootstrap_intervals(task, golds, base, resamples=300, base=base)
    assert same.low == same.high == 0.0 and same.better == 0.5  # identical predictions: every difference a tie
    # the same resampled records for both models: same seed, same interval
    again = bootstrap_intervals(task, golds, better, resamples=300, base=base)
    assert again[0] == iv
    lines = format_intervals([iv], 0.95, 300)
    assert "diff" in lines[0] and "+0.1267" in lines[1]


def test_a_metric_recomputed_on_each_resample(tmp_path):
    """RES cIoU is a ratio of sums, not a mean: resampled through ``task.score``."""
    task = get_task("res")
    golds, preds = [], []
    for i in range(30):
        m = np.zeros((64, 64), bool)
        m[10 : 30 + i % 5, 10:30] = True
        golds.append(Record(f"m{i}", "res", ["a.png"], [SIZE], "<image>\nSegment it.",
                            targets=Targets(masks=[Mask(m).to_rle()], boxes=[[10, 10, 30, 30 + i % 5]])))  # fmt: skip
        p = np.zeros((64, 64), bool)
        p[10:30, 10 : 25 + i % 10] = True
        preds.append(Prediction(masks=[p], boxes=np.array([[10, 10, 25 + i % 10, 30]], float), image_ids=[0],
                                labels=[""]))  # fmt: skip
    assert task.sample_scores(golds, preds) is None
    got = {i.metric: i for i in bootstrap_intervals(task, golds, preds, resamples=50)}
    assert set(got) == set(task.metric_names)
    assert got["ciou"].low <= got["ciou"].value <= got["ciou"].high and got["ciou"].low < got["ciou"].high


def test_bad_arguments_are_explained():
    task = get_task("nlvr")
    golds = nlvr_records(10)
    preds = answers(golds, np.ones(10, bool))
    with pytest.raises(ValueError, match="resamples must be at least 10"):
        bootstrap_intervals(task, golds, preds, resamples=3)
    with pytest.raises(ValueError, match="level must be between 0 and 1"):
        bootstrap_intervals(task, golds, preds, level=95)
    with pytest.raises(ValueError, match="10 gold records but 9 predictions"):
        bootstrap_intervals(task, golds, preds, base=preds[:9])


def test_cli_paired_bootstrap(tmp_path, capsys):
    golds = nlvr_records(60)
    write_records(tmp_path / "gold.jsonl", golds)
    for name, right in (("a", np.arange(60) % 3 != 0), ("b", np.arange(60) % 6 != 0)):
        rows = [{"id": g.id, "answer": p.text} for g, p in zip(golds, answers(golds, right))]
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["score", "--task", "nlvr", "--gold", str(tmp_path / "gold.jsonl"), "--pred", str(tmp_path / "b.jsonl")]
    assert main(args + ["--against", str(tmp_path / "a.jsonl"), "--bootstrap", "200", "--json"]) == 0
    captured = capsys.readouterr()
    got = json.loads(captured.out)["bootstrap"]["accuracy"]  # --json: stdout is the JSON alone, tables on stderr
    assert got["difference"] == pytest.approx(10 / 60) and got["base"] == pytest.approx(40 / 60)
    assert got["low"] > 0 and "95% interval of diff" in captured.err
    assert main(args + ["--against", str(tmp_path / "a.jsonl")]) == 2
    assert "give --bootstrap N too" in capsys.readouterr().err
    assert main(args + ["--bootstrap", "-4"]) == 2
    assert "--bootstrap must be a number of resamples" in capsys.readouterr().err


def test_caption_metrics_resample_from_per_record_values():
    """CIDEr-D and ROUGE-L are means of per-record values (so no Java per resample); BLEU-4 and METEOR are not."""
    task = get_task("caption")
    texts = ["a red circle and a blue square", "two green stars", "a small white hexagon", "a large yellow triangle"]
    golds = [Record(f"c{i}", "caption", ["a.png"], [SIZE], "<image>\nDescribe the image.",
                    targets=Targets(answers=[t])) for i, t in enumerate(texts)]  # fmt: skip
    preds = [Prediction(text=t) for t in ["a red circle", "two green stars", "a white square", "a yellow triangle"]]
    per = task.sample_scores(golds, preds)
    full = task.score(golds, preds)
    assert set(per) == {"cider", "rouge_l"}
    assert per["cider"].mean() == pytest.approx(full["cider"]) and per["rouge_l"].mean() == pytest.approx(full["rouge_l"])
    got = bootstrap_intervals(task, golds, preds, resamples=20)
    assert [i.metric for i in got] == ["cider", "rouge_l"]  # in the task's metric order; bleu4 / meteor left out
    assert get_task("vqa").sample_scores(golds, preds) is None  # a text task with its own score: resampled by it


def test_cli_checks_its_arguments_before_scoring(tmp_path, capsys):
    golds = nlvr_records(20)
    write_records(tmp_path / "gold.jsonl", golds)
    rows = [{"id": g.id, "answer": "true"} for g in golds]
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "other.jsonl").write_text(json.dumps({"id": "elsewhere", "answer": "true"}) + "\n")
    args = ["score", "--task", "nlvr", "--gold", str(tmp_path / "gold.jsonl"), "--pred", str(tmp_path / "p.jsonl")]
    assert main(args + ["--bootstrap", "5"]) == 2
    assert main(args + ["--bootstrap", "100", "--level", "95"]) == 2
    captured = capsys.readouterr()
    assert "at least 10" in captured.err and "--level must be between 0 and 1" in captured.err
    assert captured.out == ""  # nothing scored before the error
    assert main(args + ["--bootstrap", "100", "--against", str(tmp_path / "other.jsonl")]) == 2
    assert "predicts none of the 20 nlvr records" in capsys.readouterr().err

import json

import pytest

from vistakit.evaluation.runner import EvalReport, evaluate_dir, format_table, load_split
from vistakit.evaluation.score import score_files
from vistakit.geometry import SequenceGrammar
from vistakit.model import Engine, load_pretrained
from vistakit.model.engine import GenerationResult, attach_scores
from vistakit.tasks import get_task


class GoldEngine:
    """Answers every record with its gold answer (1000 bins), as the real engine's predict_records would."""

    def __init__(self):
        self.calls, self.gen = [], None
        self.grammar = SequenceGrammar(1000)

    def predict_records(self, records, **gen):
        self.calls.append(len(records))
        self.gen = gen
        out = []
        for r in records:
            res = GenerationResult(r.answer, loc_scores=[0.5] * r.answer.count("<loc_"))
            pred = get_task(r.task).parse(r.answer, r.image_sizes, self.grammar)
            attach_scores(pred, res)
            out.append((res, pred))
        return out


def test_gold_answers_score_perfectly_and_predictions_rescore_the_same(sw_eval, tmp_path):
    engine = GoldEngine()
    report = evaluate_dir(
        engine,
        sw_eval,
        "test",
        ["rec", "which_image", "detection"],
        batch_size=2,
        predictions_dir=tmp_path,
        max_new_tokens=7,
    )
    assert engine.gen == {"max_new_tokens": 7}
    assert all(n <= 2 for n in engine.calls) and sum(engine.calls) == sum(r.n for r in report.results.values())
    m = report.metrics
    assert m["rec"]["acc50"] == 1.0 and m["which_image"]["accuracy"] == 1.0 and m["detection"]["ap50"] == 1.0
    for task in ("rec", "which_image", "detection"):
        lines = [json.loads(l) for l in (tmp_path / f"{task}.jsonl").read_text().splitlines()]
        assert len(lines) == report.results[task].n and all(set(l) <= {"id", "answer", "scores"} for l in lines)
        rescored = score_files(task, sw_eval / "test.jsonl", tmp_path / f"{task}.jsonl", bins=1000)
        assert rescored.metrics == pytest.approx(m[task], nan_ok=True)
        assert not rescored.missing and not rescored.unknown
    # detection boxes carry their span scores through the file
    assert all(
        l.get("scores") == [0.5] * l["answer"].count("<box>")
        for l in map(json.loads, (tmp_path / "detection.jsonl").read_text().splitlines())
        if "<box>" in l["answer"]
    )
    table = format_table(report)
    assert table[0].split()[:3] == ["task", "n", "bad"] and any(
        l.startswith("rec ") and "acc50=1.0000" in l for l in table
    )
    js = report.to_json()
    assert js["rec"]["n"] == report.results["rec"].n and js["rec"]["predictions"].endswith("rec.jsonl")


def test_a_real_micro_model_runs_end_to_end(sw_eval, micro_checkpoint):
    model, processor = load_pretrained(micro_checkpoint)
    engine = Engine(model, processor)
    report = evaluate_dir(engine, sw_eval, "test", ["rec", "which_image"], limit=2, batch_size=2, max_new_tokens=8)
    assert {t: r.n for t, r in report.results.items()} == {"rec": 2, "which_image": 2}
    for task, r in report.results.items():
        assert set(r.metrics) == set(get_task(task).metric_names)
        assert all(isinstance(v, float) for v in r.metrics.values())


def test_load_split_limits_and_errors(sw_eval):
    by_task = load_split(sw_eval, "test", limit=1)
    assert set(by_task) == {"rec", "which_image", "detection", "vqa"} and all(len(v) == 1 for v in by_task.values())
    with pytest.raises(FileNotFoundError, match=r"no split 'val' .* found: test"):
        load_split(sw_eval, "val")
    with pytest.raises(KeyError, match="unknown task 'recc'"):
        load_split(sw_eval, "test", ["recc"])
    with pytest.raises(ValueError, match=r"no records of task\(s\) \['res'\]"):
        load_split(sw_eval, "test", ["res"])
    with pytest.raises(ValueError, match="limit must be >= 1"):
        load_split(sw_eval, "test", limit=0)


def test_empty_report_table():
    assert format_table(EvalReport()) == ["no tasks evaluated"]

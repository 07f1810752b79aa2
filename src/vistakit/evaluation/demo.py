"""The end-to-end demo: fresh ShapesWorld scenes → the model on every task it was trained for → overlays and a
results table. What ``make demo`` runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..data.shapesworld.generate import GenerateConfig, generate_split
from .present import draw_prediction
from ..tasks import get_task
from .runner import EvalReport, TaskResult, format_table, load_split, predict_records

# The tasks of the VistaLLM family that the reference model is trained on.
REFERENCE_TASKS = ("caption", "vqa", "rec", "res", "grec", "gres", "reg", "attcoseg", "coseg", "nlvr", "which_image")


@dataclass
class DemoResult:
    report: EvalReport
    overlays: list[Path]
    table: Path


def run_demo(
    engine: Any,
    out_dir: str | Path,
    tasks: Sequence[str] = REFERENCE_TASKS,
    per_task: int = 4,
    seed: int = 20261123,
    batch_size: int = 8,
    **gen: Any,
) -> DemoResult:
    """Generate ``per_task`` new scenes per task (a seed no training split uses), answer them with ``engine``,
    draw every answer over its images into ``out_dir/overlays/`` and write ``out_dir/results.md``."""
    out = Path(out_dir)
    data = out / "data"
    cfg = GenerateConfig(split="test", n=per_task * len(tasks), seed=seed, tasks=tuple(tasks),
                         size=engine.model.config.canvas)  # fmt: skip
    generate_split(data, cfg)
    by_task = load_split(data, "test", tasks)
    report, overlays = EvalReport(), []
    (out / "overlays").mkdir(parents=True, exist_ok=True)
    for name, records in by_task.items():
        pairs = predict_records(engine, records, batch_size, **gen)
        preds = [p for _, p in pairs]
        for i, (rec, (res, pred)) in enumerate(zip(records, pairs)):
            img = draw_prediction(rec.image_paths(), rec.image_sizes, rec.prompt, res.text, pred, name,
                                  rec.visual_prompts)  # fmt: skip
            path = out / "overlays" / f"{name}_{i}.png"
            img.save(path)
            overlays.append(path)
        metrics = get_task(name).score(list(records), preds)
        report.results[name] = TaskResult(name, metrics, len(records), sum(bool(p.problems) for p in preds), None, 0.0)
    table = out / "results.md"
    lines = [f"Demo: {per_task} fresh ShapesWorld samples per task (seed {seed}); metrics on so few samples are noisy.",
             "", *format_table(report)]  # fmt: skip
    table.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return DemoResult(report, overlays, table)


"""The end-to-end demo: fresh ShapesWorld scenes → the model on every task it was trained for → one overlay per
example, a gallery page showing each (prompt, answer, expected answer, overlay) and a results table. What
``make demo`` runs."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from PIL import Image

from ..data.record import Record
from ..data.shapesworld.generate import GenerateConfig, generate_split
from ..tasks import Prediction, get_task
from .present import READABLE_SIDE, describe_prediction, draw_on_images
from .runner import EvalReport, TaskResult, format_table, load_split, predict_records

GAP = 8  # pixels between the images of one example

# The tasks of the VistaLLM family that the reference model is trained on.
REFERENCE_TASKS = ("caption", "vqa", "rec", "res", "grec", "gres", "reg", "attcoseg", "coseg", "nlvr", "which_image")


@dataclass
class DemoResult:
    report: EvalReport
    overlays: list[Path]
    table: Path
    gallery: Path


def example_picture(rec: Record, pred: Prediction) -> Image.Image:
    """The example's images side by side, each enlarged to a readable size with its share of ``pred`` drawn on."""
    images = []
    for path in rec.image_paths():
        with Image.open(path) as im:
            images.append(im.convert("RGB"))
    drawn = draw_on_images(images, pred, rec.visual_prompts, min_side=READABLE_SIDE)
    if not drawn:  # a task without images (text to image): nothing to draw on
        return Image.new("RGB", (READABLE_SIDE, READABLE_SIDE // 4), (40, 40, 40))
    out = Image.new("RGB", (sum(d.width for d in drawn) + GAP * (len(drawn) - 1), max(d.height for d in drawn)),
                    (255, 255, 255))  # fmt: skip
    x = 0
    for d in drawn:
        out.paste(d, (x, 0))
        x += d.width + GAP
    return out


def _gallery_entry(rec: Record, pred: Prediction, answer: str, picture: str) -> str:
    prompt = re.sub(r"<image>\n?", "", rec.prompt).strip()
    details = "\n".join(describe_prediction(pred))
    return (f'<figure><img src="{html.escape(picture)}" alt="{html.escape(rec.id)}">'
            f"<figcaption><b>Prompt</b> {html.escape(prompt)}<br><b>Answer</b> {html.escape(pred.text or answer)}"
            f"<br><b>Expected</b> {html.escape(rec.answer)}<br><b>Raw answer</b> <code>{html.escape(answer)}</code>"
            + (f"<pre>{html.escape(details)}</pre>" if details else "")
            + "</figcaption></figure>")  # fmt: skip


def write_gallery(path: Path, title: str, sections: dict[str, list[str]]) -> None:
    """An HTML page: one section per task, one figure per example (the entries from :func:`_gallery_entry`)."""
    style = ("body{font-family:sans-serif;margin:1em}figure{display:inline-block;vertical-align:top;margin:.5em;"
             "max-width:820px}img{max-width:800px;image-rendering:pixelated}figcaption{font-size:.9em}"
             "pre{white-space:pre-wrap;font-size:.85em}")  # fmt: skip
    body = "".join(f"<h2>{html.escape(task)}</h2>" + "".join(entries) for task, entries in sections.items())
    path.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                    f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>\n",
                    encoding="utf-8")  # fmt: skip


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
    draw every answer over its images into ``out_dir/overlays/``, show each example (prompt, answer, expected
    answer, overlay) in ``out_dir/gallery.html`` and write the metrics to ``out_dir/results.md``."""
    out = Path(out_dir)
    data = out / "data"
    cfg = GenerateConfig(split="test", n=per_task * len(tasks), seed=seed, tasks=tuple(tasks),
                         size=engine.model.config.canvas)  # fmt: skip
    generate_split(data, cfg)
    by_task = load_split(data, "test", tasks)
    report, overlays, sections = EvalReport(), [], {}
    (out / "overlays").mkdir(parents=True, exist_ok=True)
    for name, records in by_task.items():
        pairs = predict_records(engine, records, batch_size, **gen)
        preds = [p for _, p in pairs]
        for i, (rec, (res, pred)) in enumerate(zip(records, pairs)):
            path = out / "overlays" / f"{name}_{i}.png"
            example_picture(rec, pred).save(path)
            overlays.append(path)
            sections.setdefault(name, []).append(_gallery_entry(rec, pred, res.text, f"overlays/{path.name}"))
        metrics = get_task(name).score(list(records), preds)
        report.results[name] = TaskResult(name, metrics, len(records), sum(bool(p.problems) for p in preds), None, 0.0)
    table = out / "results.md"
    lines = [f"Demo: {per_task} fresh ShapesWorld samples per task (seed {seed}); metrics on so few samples are noisy.",
             "", *format_table(report)]  # fmt: skip
    table.write_text("\n".join(lines) + "\n", encoding="utf-8")
    gallery = out / "gallery.html"
    write_gallery(gallery, f"vistakit demo: {per_task} fresh ShapesWorld samples per task (seed {seed})", sections)
    return DemoResult(report, overlays, table, gallery)


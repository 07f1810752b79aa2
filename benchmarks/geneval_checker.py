"""How far the GenEval-style checker can be trusted: it scores the renderer's own images (should be about 1.0)
and corrupted versions of them (should drop), through the same path as a model's predictions
(`vistakit score` on a predictions file whose records name image files).

    python benchmarks/geneval_checker.py --n 200 --seed 11 [--out runs/geneval_check] [--json]

Writes a ShapesWorld generate + edit test split, PNGs for each variant and one predictions file per variant, then
prints each variant's metrics. Variants: ``target`` (the reference image itself), ``flipped`` (rotated 180°: objects
in the wrong place), ``recoloured`` (every object painted another named colour), ``average`` (one flat colour, a
"blurred average"), ``input`` (edits only: the unedited input returned), ``noisy`` (edits only: the input with
uniform noise ±40).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from vistakit.data.images import read_image
from vistakit.data.shapesworld.generate import GenerateConfig, generate_split
from vistakit.data.shapesworld.render import png_bytes
from vistakit.data.shapesworld.scene import COLOURS, Scene
from vistakit.evaluation.score import score_files


def variants(rec: dict, root: Path, rng: np.random.Generator) -> dict[str, np.ndarray]:
    target = read_image(root / rec["meta"]["target_image"], "target")
    scene = Scene.from_json(rec["meta"]["scene" if rec["task"] == "generate" else "edited_scene"])
    swap = target.copy()
    for o, v in zip(scene.objects, scene.visible_masks):
        swap[v] = COLOURS["white" if o.colour != "white" else "red"]
    out = {"target": target, "flipped": target[::-1, ::-1].copy(), "recoloured": swap,
           "average": np.full_like(target, int(target.mean()))}  # fmt: skip
    if rec["task"] == "edit":
        before = read_image(root / rec["images"][0], "input")
        out["input"] = before
        out["noisy"] = np.clip(before.astype(int) + rng.integers(-40, 41, before.shape), 0, 255).astype(np.uint8)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200, help="records (half generate, half edit)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", type=Path, default=None, help="folder for the split and PNGs (default: a temp dir)")
    ap.add_argument("--json", action="store_true", help="print JSON only")
    args = ap.parse_args(argv)
    root = args.out or Path(tempfile.mkdtemp(prefix="geneval_check_"))
    generate_split(root, GenerateConfig(split="test", n=args.n, seed=args.seed, tasks=("generate", "edit")))
    recs = [json.loads(line) for line in (root / "test.jsonl").read_text().splitlines()]
    rng = np.random.default_rng(0)
    files: dict[tuple[str, str], list[dict]] = {}
    for rec in recs:
        for name, img in variants(rec, root, rng).items():
            rel = f"variants/{name}/{rec['id']}.png"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(png_bytes(img))
            files.setdefault((rec["task"], name), []).append({"id": rec["id"], "answer": "[GEN]", "image": rel})
    results = {}
    for (task, name), preds in sorted(files.items()):
        path = root / f"pred_{task}_{name}.jsonl"
        path.write_text("".join(json.dumps(p) + "\n" for p in preds))
        report = score_files(task, root / "test.jsonl", path)
        results.setdefault(task, {})[name] = {k: round(v, 4) for k, v in report.metrics.items() if k != "accuracy"}
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    print(f"{args.n} records (seed {args.seed}) in {root}")
    for task, rows in results.items():
        keys = list(next(iter(rows.values())))
        print(f"\n| {task} | " + " | ".join(keys) + " |\n|---|" + "---:|" * len(keys))
        for name, m in rows.items():
            print(f"| {name} | " + " | ".join(f"{m[k]:.3f}" for k in keys) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

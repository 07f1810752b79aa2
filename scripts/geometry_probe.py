"""Per-geometry probe: does a model keep its REC and VQA skills on images of other sizes, aspect ratios and looks?

Scenes use ShapesWorld's vocabulary (its shapes, colours and size words, the radius of each size as a fraction of
the image's shorter side) but are drawn by a different path than ShapesWorld's renderer: PIL ``ImageDraw`` at 4×
the size, downsampled by area (anti-aliased edges); each object's colour jittered around its named colour
(``--jitter``: each RGB channel moves by up to that fraction of 255); plain grey or beige backgrounds; 1–4 objects
that never overlap, with distinct colours and distinct shapes, so every question below has one answer. The
held-out pair (purple star) is never drawn. Each scene asks three questions through ``Vista.predict_batch``:

- REC ``Where is the red circle?`` — correct when the box's IoU with the object's box is >= 0.5 (Acc@0.5);
- ``What colour is the star?`` and ``What shape is the blue object?`` — VQA exact match after normalisation.

The object's box is that of its pixels with coverage >= 0.5 (the same mask rule as ShapesWorld's ``--render aa``).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/geometry_probe.py --n 50              # the shipped reference
    .venv/bin/python scripts/geometry_probe.py --checkpoint runs/x --n 100 --json probe.json

Prints a markdown table (one row per geometry); ``--save DIR`` writes the first scenes of each geometry as PNGs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from vistakit.data.shapesworld.generate import DEFAULT_HOLDOUT
from vistakit.data.shapesworld.scene import COLOURS, SHAPE_RADIUS, SIZES

GEOMETRIES = ((64, 64), (128, 128), (160, 96), (96, 144))
PROBE_SHAPES = ("circle", "square", "triangle", "star", "hexagon")
SUPERSAMPLE = 4
GREY = (90, 200)  # plain grey backgrounds: one level in this range
BEIGE = (226, 213, 183)  # beige backgrounds: this tone times a factor in [0.82, 1.0]


@dataclass(frozen=True)
class Thing:
    """One drawn object; ``box`` xyxy in pixels of the image (edges of its pixels with coverage >= 0.5)."""

    shape: str
    colour: str
    size: str
    box: tuple[float, float, float, float]


def outline(shape: str, cx: float, cy: float, r: float, rot: float) -> list[tuple[float, float]]:
    """Polygon vertices (x, y) of a probe shape with circumradius ``r``, drawn independently of ShapesWorld's
    outlines (a square's corners sit at 0.85 r, a star's inner vertices at 0.45 r, as the vocabulary's look)."""
    if shape == "circle":
        n, radii, phase = 64, (1.0,), 0.0
    elif shape == "square":
        n, radii, phase = 4, (0.85,), np.pi / 4
    elif shape == "triangle":
        n, radii, phase = 3, (1.0,), -np.pi / 2
    elif shape == "hexagon":
        n, radii, phase = 6, (1.0,), 0.0
    elif shape == "star":
        n, radii, phase = 10, (1.0, 0.45), -np.pi / 2
    else:
        raise ValueError(f"unknown probe shape {shape!r}; expected one of {', '.join(PROBE_SHAPES)}")
    pts = []
    for k in range(n):
        a = phase + rot + 2 * np.pi * k / n
        rr = r * radii[k % len(radii)]
        pts.append((cx + rr * np.cos(a), cy + rr * np.sin(a)))
    return pts


def jittered(colour: str, rng: np.random.Generator, jitter: float) -> tuple[int, int, int]:
    base = np.asarray(COLOURS[colour], np.float64)
    return tuple(int(v) for v in np.clip(base + rng.uniform(-jitter, jitter, 3) * 255, 0, 255).round())


def background(rng: np.random.Generator) -> tuple[int, int, int]:
    if rng.random() < 0.5:
        g = int(rng.integers(*GREY))
        return (g, g, g)
    f = rng.uniform(0.82, 1.0)
    return tuple(int(round(v * f)) for v in BEIGE)


def draw_scene(w: int, h: int, rng: np.random.Generator, jitter: float) -> tuple[np.ndarray, list[Thing]]:
    """An H×W×3 uint8 image and its objects (distinct colours, distinct shapes, no overlaps)."""
    k = SUPERSAMPLE
    canvas = Image.new("RGB", (w * k, h * k), background(rng))
    draw = ImageDraw.Draw(canvas)
    colours = [c for c in COLOURS]
    n = int(rng.integers(1, 5))
    shapes = list(rng.permutation(PROBE_SHAPES))
    placed: list[tuple[float, float, float]] = []
    things: list[Thing] = []
    for shape in shapes[:n]:
        allowed = [c for c in colours if (c, shape) not in DEFAULT_HOLDOUT and c not in {t.colour for t in things}]
        colour = allowed[int(rng.integers(len(allowed)))]
        size = SIZES[int(rng.integers(len(SIZES)))]
        r = SHAPE_RADIUS[size] * min(w, h) * rng.uniform(0.92, 1.08)
        for _ in range(100):
            cx, cy = rng.uniform(r + 1, w - r - 1), rng.uniform(r + 1, h - r - 1)
            if all(np.hypot(cx - x, cy - y) > r + q + 1 for x, y, q in placed):
                break
        else:
            continue  # no room left: fewer objects
        placed.append((cx, cy, r))
        poly = [(x * k, y * k) for x, y in outline(shape, cx, cy, r, rng.uniform(0, 2 * np.pi))]
        fill = jittered(colour, rng, jitter)
        draw.polygon(poly, fill=fill)
        cover = Image.new("L", canvas.size, 0)
        ImageDraw.Draw(cover).polygon(poly, fill=255)
        mask = np.asarray(cover.resize((w, h), Image.Resampling.BOX)) >= 128  # coverage >= 0.5
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        if not len(rows):
            placed.pop()
            continue
        box = (float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1))
        things.append(Thing(shape, colour, size, box))
    image = np.asarray(canvas.resize((w, h), Image.Resampling.BOX))
    return image, things


def questions(image: np.ndarray, things: list[Thing], rng: np.random.Generator):
    """(kind, prompt, task, truth) for the scene's three questions."""
    pick = [things[int(rng.integers(len(things)))] for _ in range(3)]
    return [
        ("rec", f"Where is the {pick[0].colour} {pick[0].shape}?", "rec", pick[0].box),
        ("colour", f"What colour is the {pick[1].shape}?", "vqa", pick[1].colour),
        ("shape", f"What shape is the {pick[2].colour} object?", "vqa", pick[2].shape),
    ]


def probe(vista, geometry: tuple[int, int], n: int, seed: int, jitter: float, batch: int, save: Path | None):
    from vistakit.api import Request
    from vistakit.geometry import box_iou_xyxy
    from vistakit.metrics.vqa import vqa_accuracy_one

    w, h = geometry
    rng = np.random.default_rng([seed, w, h])
    asks = []
    for i in range(n):
        image, things = draw_scene(w, h, rng, jitter)
        if save is not None and i < 8:
            save.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(save / f"{w}x{h}_{i:02d}.png")
        asks += [(image, *q) for q in questions(image, things, rng)]
    hits: dict[str, list[float]] = {"rec": [], "colour": [], "shape": []}
    for s in range(0, len(asks), batch):
        chunk = asks[s : s + batch]
        results = vista.predict_batch([Request(img, prompt, task) for img, _, prompt, task, _ in chunk])
        for (_, kind, _, _, truth), res in zip(chunk, results):
            if kind == "rec":
                ok = len(res.boxes) > 0 and float(box_iou_xyxy(res.boxes[:1], np.asarray([truth]))[0, 0]) >= 0.5
                hits[kind].append(float(ok))
            else:
                hits[kind].append(vqa_accuracy_one(res.text, [truth]))
    return {k: float(np.mean(v)) if v else float("nan") for k, v in hits.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=None, help="checkpoint folder (default: the shipped reference model)")
    p.add_argument("--n", type=int, default=50, help="scenes per geometry, three questions each (default 50)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--geometries", default=",".join(f"{w}x{h}" for w, h in GEOMETRIES),
                   help="comma-separated WIDTHxHEIGHT (default 64x64,128x128,160x96,96x144)")  # fmt: skip
    p.add_argument("--jitter", type=float, default=0.12, help="shade jitter per RGB channel, fraction of 255")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None, help="also write the table as JSON here")
    p.add_argument("--save", default=None, help="write the first 8 scenes of each geometry here as PNG")
    args = p.parse_args(argv)
    try:
        geos = []
        for part in args.geometries.split(","):
            w, _, h = part.strip().lower().partition("x")
            geos.append((int(w), int(h)))
            if not (16 <= geos[-1][0] <= 1024 and 16 <= geos[-1][1] <= 1024):
                raise ValueError
    except ValueError:
        print(f"error: --geometries must be WIDTHxHEIGHT pairs of 16..1024 pixels, got {args.geometries!r}",
              file=sys.stderr)  # fmt: skip
        return 2
    if args.n < 1 or not 0 <= args.jitter <= 0.5:
        print(f"error: need --n >= 1 and --jitter in [0, 0.5], got {args.n}, {args.jitter}", file=sys.stderr)
        return 2
    import torch

    from vistakit import Vista

    torch.set_num_threads(args.threads)
    vista = Vista.from_pretrained(args.checkpoint) if args.checkpoint else Vista.from_pretrained()
    rows = []
    t0 = time.perf_counter()
    for w, h in geos:
        scores = probe(vista, (w, h), args.n, args.seed, args.jitter, args.batch_size,
                       Path(args.save) if args.save else None)  # fmt: skip
        rows.append({"geometry": f"{w}x{h}", "n": args.n, **scores})
    print(f"| image | REC Acc@0.5 | colour | shape |  (n = {args.n} scenes each, seed {args.seed}, "
          f"jitter {args.jitter}, {time.perf_counter() - t0:.0f} s)")  # fmt: skip
    print("|---|---:|---:|---:|")
    for r in rows:
        w, h = r["geometry"].split("x")
        print(f"| {w} × {h} | {r['rec']:.2f} | {r['colour']:.2f} | {r['shape']:.2f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"checkpoint": args.checkpoint or "reference", "seed": args.seed,
                                               "jitter": args.jitter, "rows": rows}, indent=1) + "\n")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

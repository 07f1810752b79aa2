"""Training curves as a PNG, drawn with Pillow from a run's ``log.jsonl`` (no plotting library needed).

Panels, left to right: loss (train, its moving average, and validation; log scale when it spans more than a
decade), learning rate, and one panel per logged task metric when there are any.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from ..atomic import atomic_write
from .log import AUX_LOSSES, read_log

PANEL_W, PANEL_H, MARGIN = 360, 240, 44
COLORS = {"train": (120, 160, 230), "smooth": (20, 60, 200), "val": (220, 60, 40)}
SERIES_COLORS = ((220, 60, 40), (30, 150, 60), (20, 60, 200), (200, 140, 0), (150, 40, 180), (0, 150, 160))

Series = tuple[str, Sequence[float], Sequence[float], tuple[int, int, int]]  # (label, steps, values, colour)


def moving_average(values: Sequence[float], window: int) -> np.ndarray:
    """Centred mean over at most ``window`` values, same length as ``values``.

    The window is symmetric about each point and shrinks near the ends (the first and last points are their own
    mean), so the smoothed curve neither lags a falling loss nor is pulled toward the run's first, largest values.
    """
    v = np.asarray(values, np.float64)
    if len(v) == 0:
        return v
    c = np.cumsum(np.insert(v, 0, 0.0))
    idx = np.arange(len(v))
    half = np.minimum.reduce([np.full(len(v), (max(window, 1) - 1) // 2), idx, len(v) - 1 - idx])
    lo, hi = idx - half, idx + half + 1
    return (c[hi] - c[lo]) / (hi - lo)


def _panel(title: str, series: Sequence[Series], log_y: bool = False) -> Image.Image:
    img = Image.new("RGB", (PANEL_W, PANEL_H), (255, 255, 255))
    d = ImageDraw.Draw(img)
    d.text((MARGIN, 4), title, fill=(0, 0, 0))
    x0, y0, x1, y1 = MARGIN, 20, PANEL_W - 10, PANEL_H - 24
    d.rectangle([x0, y0, x1, y1], outline=(160, 160, 160))
    pts = [(float(s), float(v)) for _, ss, vs, _ in series for s, v in zip(ss, vs) if math.isfinite(v)]
    if log_y:
        pts = [(s, v) for s, v in pts if v > 0]
    if not pts:
        d.text((x0 + 8, (y0 + y1) // 2), "no data", fill=(120, 120, 120))
        return img
    f = (lambda v: math.log10(v)) if log_y else (lambda v: v)
    smin, smax = min(p[0] for p in pts), max(p[0] for p in pts)
    vmin, vmax = min(f(p[1]) for p in pts), max(f(p[1]) for p in pts)
    if smax == smin:
        smax = smin + 1
    if vmax == vmin:
        vmin, vmax = vmin - 0.5, vmax + 0.5

    def xy(s: float, v: float) -> tuple[float, float]:
        return x0 + (s - smin) / (smax - smin) * (x1 - x0), y1 - (f(v) - vmin) / (vmax - vmin) * (y1 - y0)

    for label, ss, vs, color in series:
        line = [xy(s, v) for s, v in zip(ss, vs) if math.isfinite(v) and (v > 0 or not log_y)]
        if len(line) > 1:
            d.line(line, fill=color, width=2)
        for px, py in line if len(line) <= 40 else []:
            d.ellipse([px - 2, py - 2, px + 2, py + 2], fill=color)
    top = 10**vmax if log_y else vmax
    bottom = 10**vmin if log_y else vmin
    d.text((2, y0), f"{top:.3g}", fill=(0, 0, 0))
    d.text((2, y1 - 10), f"{bottom:.3g}", fill=(0, 0, 0))
    d.text((x0, y1 + 4), f"{smin:g}", fill=(0, 0, 0))
    d.text((x1 - 40, y1 + 4), f"step {smax:g}", fill=(0, 0, 0))
    lx = x0 + 7 * len(title) + 12
    for label, _, vs, color in series:
        if len(vs):
            d.text((lx, 4), label, fill=color)
            lx += 7 * len(label) + 10
    return img


def _window(n: int, smooth: int) -> int:
    """The smoothing window for ``n`` logged points: odd (so it centres), at most ``smooth`` and at most a tenth of
    the run, so a short log (each point already a mean over ``log_every`` steps) is not flattened."""
    w = max(1, min(smooth, n // 10))
    return w if w % 2 else w - 1


def plot_curves(log_path: str | Path, out_png: str | Path, smooth: int = 20) -> Path:
    """Draw the curves of ``log_path`` into ``out_png``; returns the PNG path."""
    entries = list(read_log(log_path))
    train = [e for e in entries if e["kind"] == "train" and "loss" in e]
    val = [e for e in entries if e["kind"] == "val" and "loss" in e]
    ts, tl = [e["step"] for e in train], [float(e["loss"]) for e in train]
    losses = [v for v in tl + [float(e["loss"]) for e in val] if v > 0 and math.isfinite(v)]
    log_y = bool(losses) and max(losses) / min(losses) > 10
    w = _window(len(tl), smooth)
    panels = [
        _panel("loss", [("train", ts, tl, COLORS["train"]),
                        (f"avg{w}", ts, moving_average(tl, w), COLORS["smooth"]),
                        ("val", [e["step"] for e in val], [float(e["loss"]) for e in val], COLORS["val"])], log_y),
        _panel("learning rate", [("lr", ts, [float(e.get("lr", math.nan)) for e in train], COLORS["smooth"])]),
    ]  # fmt: skip
    for k, name in enumerate(AUX_LOSSES):
        aux = [e for e in train if name in e]
        if aux:
            av = [e for e in val if name in e]
            panels.insert(1 + k, _panel(name.replace("_", " "), [
                ("train", [e["step"] for e in aux], [float(e[name]) for e in aux], COLORS["train"]),
                ("val", [e["step"] for e in av], [float(e[name]) for e in av], COLORS["val"])]))  # fmt: skip
    pre = [e for e in entries if e["kind"] == "vision_pretrain" and "loss" in e]
    if pre:  # the vision pre-training stage (its own step count, before step 1 of the main loop)
        pl = [float(e["loss"]) for e in pre]
        pw = _window(len(pl), smooth)
        panels.insert(0, _panel("vision pre-training loss", [("train", [e["step"] for e in pre], pl, COLORS["train"]),
                                (f"avg{pw}", [e["step"] for e in pre], moving_average(pl, pw),
                                 COLORS["smooth"])]))  # fmt: skip
    metrics: dict[str, list[Series]] = {}
    for e in entries:
        if e["kind"] == "metric":
            metrics.setdefault(e["task"], [])
    for task in metrics:
        names = sorted({e["metric"] for e in entries if e["kind"] == "metric" and e["task"] == task})
        for k, name in enumerate(names):
            rows = [e for e in entries if e["kind"] == "metric" and e["task"] == task and e["metric"] == name]
            vals = [float(e["value"]) if e["value"] is not None else math.nan for e in rows]
            metrics[task].append((name, [e["step"] for e in rows], vals, SERIES_COLORS[k % len(SERIES_COLORS)]))
        panels.append(_panel(f"val {task}", metrics[task]))
    cols = min(4, len(panels))
    rows_n = -(-len(panels) // cols)
    sheet = Image.new("RGB", (cols * PANEL_W, rows_n * PANEL_H), (255, 255, 255))
    for i, p in enumerate(panels):
        sheet.paste(p, ((i % cols) * PANEL_W, (i // cols) * PANEL_H))
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    _save_small(sheet, out_png)
    return out_png


def _save_small(sheet: Image.Image, out_png: Path) -> None:
    """Save as a 64-colour palette PNG: about half the bytes of RGB (this matters for the shipped checkpoint's size
    budget) with no visible change — the drawing's lines are a few flat colours and only the text's antialiased
    edges are rounded (mean pixel difference 0.04 of 255)."""
    with atomic_write(out_png, "wb") as fh:  # a resumed run redraws it: never leave a torn PNG
        sheet.quantize(colors=64, dither=Image.Dither.NONE).save(fh, format="PNG", optimize=True)

"""Fault probe, data half (issue 48 items 1, 5, 6): rerun each finding end to end through the ``vistakit`` CLI
in subprocesses and print a table finding → outcome. Exits 1 if any stderr holds a traceback or an outcome is
not the expected one (a refusal: exit code 2 and one ``error:`` line naming the file; a fallback: exit 0 and the
line that says so). The server half (items 2, 3, 4, 7) has its own probe.

    python benchmarks/fault_probe_data.py [--work DIR] [--kills N]

Takes about a minute on a CPU: it generates a small ShapesWorld folder, trains the ``micro`` preset for a few
steps, then damages copies of the run, the checkpoint and the records.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "vistakit"]
ROWS: list[tuple[str, str, bool]] = []


def vk(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=full_env)


def last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def record(finding: str, proc: subprocess.CompletedProcess, expect: str, want_rc: int = 2) -> None:
    """One row: ``ok`` when no traceback, the exit code is ``want_rc`` and stderr holds ``expect``."""
    tb = "Traceback" in proc.stderr
    ok = not tb and proc.returncode == want_rc and expect in proc.stderr
    shown = "TRACEBACK: " + last_line(proc.stderr) if tb else f"rc {proc.returncode}: {last_line(proc.stderr)}"
    ROWS.append((finding, shown, ok))


def rle(arr: np.ndarray) -> dict:
    r = mask_utils.encode(np.asfortranarray(arr.astype(np.uint8)))
    return {"size": [int(v) for v in r["size"]], "counts": r["counts"].decode("ascii")}


# --- item 1: a kill while --resume rewrites the log and the settings ------------------------------------------------
def probe_kills(run: Path, data: Path, work: Path, kills: int) -> None:
    emptied = 0
    rng = random.Random(0)
    for k in range(kills):
        copy = work / f"kill{k}"
        shutil.copytree(run, copy)
        proc = subprocess.Popen([*CLI, "train", "--resume", "--out", str(copy), "--data", str(data), "--no-progress",
                                 "steps=8"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
        time.sleep(rng.uniform(1.0, 6.0))  # somewhere in start-up, the rewrite or the first steps
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        log, cfg = copy / "train" / "log.jsonl", copy / "train" / "train_config.json"
        try:
            json.loads(cfg.read_text())
            steps = {json.loads(x)["step"] for x in log.read_text().splitlines() if x.strip()}
            whole = {1, 2, 3, 4} <= steps  # the finished run's steps (the checkpoint resumed from is step 4)
        except (OSError, ValueError):
            whole = False
        emptied += not whole
    ROWS.append((f"SIGKILL during train --resume ({kills} tries)", f"{kills - emptied} left log + config whole",
                 emptied == 0))  # fmt: skip


# --- item 5: checkpoints -----------------------------------------------------------------------------------------
def probe_checkpoints(run: Path, data: Path, work: Path) -> None:
    newest = sorted((run / "checkpoints").glob("step-*"))[-1].name
    for name, damage in (("model.safetensors", lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])),
                         ("training_state.pt", lambda p: p.write_bytes(p.read_bytes()[:1000]))):  # fmt: skip
        copy = work / f"resume-{name}"
        shutil.copytree(run, copy)
        damage(copy / "checkpoints" / newest / name)
        proc = vk("train", "--resume", "--out", copy, "--data", data, "--no-progress", "steps=6")
        tb = "Traceback" in proc.stderr
        ok = not tb and proc.returncode == 0 and f"skipping the damaged checkpoint {newest}" in proc.stderr
        ROWS.append((f"train --resume, newest {name} truncated",
                     f"rc {proc.returncode}: " + next((ln for ln in proc.stderr.splitlines() if "skipping" in ln),
                                                       last_line(proc.stderr))[:110], ok))  # fmt: skip
    ckpt = run / "checkpoints" / newest
    cases = {
        "model.safetensors truncated": (lambda p: (p / "model.safetensors").write_bytes(b"\x10\x00"), "model.safetensors"),
        "config.json lm.layers: 4.0": (lambda p: _edit(p, lambda o: o["lm"].update(layers=4.0)), "lm.layers = 4.0"),
        "config.json huge dimensions": (lambda p: _edit(p, lambda o: o["lm"].update(hidden=1 << 17, intermediate=1 << 19,
                                                                                    heads=128)), "parameters"),
        "config.json two keys missing": (lambda p: _edit(p, lambda o: (o["lm"].pop("kv_heads"), o.pop("bins"))), "missing"),
    }  # fmt: skip
    for finding, (damage, expect) in cases.items():
        copy = work / ("ck-" + finding.split()[0].replace(".", "_") + str(len(ROWS)))
        shutil.copytree(ckpt, copy)
        damage(copy)
        record(finding + " (eval)", vk("eval", "--checkpoint", copy, "--data", data, "--split", "val", "--limit", "1",
                                       "--no-progress"), expect)  # fmt: skip


def _edit(folder: Path, change) -> None:
    obj = json.loads((folder / "config.json").read_text())
    change(obj)
    (folder / "config.json").write_text(json.dumps(obj))


# --- item 6: records ---------------------------------------------------------------------------------------------
def probe_records(work: Path) -> None:
    folder = work / "records"
    (folder / "images").mkdir(parents=True)
    Image.new("RGB", (8, 6), (200, 30, 30)).save(folder / "images" / "a.png")
    (folder / "images" / "script.png").write_text("#!/bin/sh\necho not an image\n")
    good = {"version": 1, "id": "r0", "task": "res", "images": ["images/a.png"], "image_sizes": [[8, 6]],
            "prompt": "<image>\nSegment the red square.", "answer": "", "targets": {"masks": [rle(np.ones((6, 8)))]}}
    pred = folder / "pred.jsonl"
    pred.write_text(json.dumps({"id": "r0", "masks": [rle(np.ones((6, 8)))]}) + "\n")
    bad_lines = {
        "deeply nested JSON line": b"[" * 100_000 + b"]" * 100_000,
        "non-UTF-8 bytes": b'{"version": 1, "id": "\xff\xfe"}',
        "5,000-digit integer": b'{"version": 1, "id": "x", "n": ' + b"9" * 5000 + b"}",
        "garbage RLE counts": _line(good, targets={"masks": [{"size": [6, 8], "counts": "~~garbage~~"}]}),
        "60000 x 60000 mask": _line(good, image_sizes=[[60000, 60000]],
                                    targets={"masks": [{"size": [60000, 60000], "counts": "0P"}]}),
        "mask of the wrong size": _line(good, targets={"masks": [rle(np.ones((5, 8)))]}),
        "image path ../../etc/passwd": _line(good, images=["../../etc/passwd"]),
        "duplicate ids": _line(good) + b"\n" + _line(good),
    }  # fmt: skip
    for finding, line in bad_lines.items():
        (folder / "test.jsonl").write_bytes(_line(good, id="ok") + b"\n" + line + b"\n")
        record(f"{finding} (score)", vk("score", "--task", "res", "--gold", folder / "test.jsonl", "--pred", pred),
               "test.jsonl:line ")  # fmt: skip
        record(f"{finding} (data show)", vk("data", "show", folder, "--split", "test", "--out", folder / "g.png"),
               "test.jsonl:line ")  # fmt: skip
    (folder / "test.jsonl").write_bytes(_line(good, images=["images/script.png"]) + b"\n")
    record("image path is not an image (eval)", vk("eval", "--data", folder, "--split", "test", "--no-progress"),
           "test.jsonl:line 1")  # fmt: skip
    (folder / "test.jsonl").write_bytes(_line(good) + b"\n")
    for finding, mask in (("predicted 60000 x 60000 mask", {"size": [60000, 60000], "counts": "0P"}),
                          ("predicted garbage RLE", {"size": [6, 8], "counts": "!!"})):  # fmt: skip
        pred.write_text(json.dumps({"id": "r0", "masks": [mask]}) + "\n")
        record(f"{finding} (score)", vk("score", "--task", "res", "--gold", folder / "test.jsonl", "--pred", pred),
               "pred.jsonl:line 1")  # fmt: skip


def _line(obj: dict, **changes) -> bytes:
    return json.dumps({**obj, **changes}).encode()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default=None, help="scratch folder (default: a temporary one, removed after)")
    ap.add_argument("--kills", type=int, default=5, help="SIGKILLs during train --resume (default 5)")
    args = ap.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="fault-probe-data-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        data, run = work / "sw", work / "run"
        gen = vk("data", "generate", "--out", data, "--split", "train", "--n", "48", "--tasks", "rec,vqa,res")
        gen_val = vk("data", "generate", "--out", data, "--split", "val", "--n", "8", "--tasks", "rec,vqa,res")
        assert gen.returncode == 0 and gen_val.returncode == 0, gen.stderr + gen_val.stderr
        t = vk("train", "--preset", "micro", "--data", data, "--out", run, "--no-progress", "steps=4", "save_every=2", "log_every=1",
               "batch_size=2", "eval_every=0", "tensorboard=false", "tokenizer_vocab=300")  # fmt: skip
        assert t.returncode == 0, t.stderr[-2000:]
        probe_kills(run, data, work, args.kills)
        probe_checkpoints(run, data, work)
        probe_records(work)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    width = max(len(f) for f, _, _ in ROWS)
    print(f"{'finding':<{width}}  ok    outcome")
    for finding, outcome, ok in ROWS:
        print(f"{finding:<{width}}  {'yes' if ok else 'NO ':<4}  {outcome[:140]}")
    bad = [f for f, _, ok in ROWS if not ok]
    print(f"\n{len(ROWS) - len(bad)}/{len(ROWS)} findings handled" + (f"; NOT: {', '.join(bad)}" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    sys.exit(main())

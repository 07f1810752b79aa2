"""Training throughput of the reference recipe with one process against data-parallel processes on this machine.

    .venv/bin/python benchmarks/data_parallel.py --steps 60 --layouts 1x2,2x1

Generates a small ShapesWorld training split (every task of the reference mixture), then runs ``vistakit train``
with the reference recipe's model and batch for ``--steps`` steps per layout — ``PxT``: P processes
(``--procs``) with T torch threads each — interleaved over ``--repeats`` rounds, and prints the median of the
logged samples/s per layout (the first logged window, which holds the warm-up, is left out).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TASKS = "caption,vqa,rec,res,grec,gres,reg,attcoseg,coseg,nlvr,which_image"
RECIPE = [  # scripts/train_reference.sh's model and batch
    "batch_size=32", "bf16=true", "warmup=5", "lr=1e-3", "eval_every=0", "save_every=0", "log_every=10",
    "tensorboard=false",
    "mixture=rec:1.5,res:2,grec:1.5,gres:2,attcoseg:2,coseg:1.5,reg:1,caption:0.7,vqa:1,nlvr:0.7,which_image:0.7",
    "model.vision.stem=conv", "model.vision.instruction_film=true", "model.vision.attribute_weight=0.5",
    "model.vision.attribute_vocab=shapesworld", "model.vision.attribute_instances=scene",
    "model.image_tokenizer.what_token=true",
]  # fmt: skip


def rates(out: Path) -> list[float]:
    log = [json.loads(line) for line in (out / "train" / "log.jsonl").read_text().splitlines()]
    return [e["samples_per_s"] for e in log if e["kind"] == "train"][1:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--layouts", default="1x2,2x1", help="comma-separated PROCSxTHREADS")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--records", type=int, default=4000)
    args = ap.parse_args()
    layouts = [tuple(int(v) for v in item.split("x")) for item in args.layouts.split(",")]
    exe = [sys.executable, "-m", "vistakit.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        subprocess.run([*exe, "data", "generate", "--out", str(data), "--split", "train", "--n", str(args.records),
                        "--seed", "0", "--tasks", TASKS], check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        got: dict[tuple[int, int], list[float]] = {lay: [] for lay in layouts}
        for r in range(args.repeats):
            for procs, threads in layouts:
                out = Path(tmp) / f"run-{procs}x{threads}-{r}"
                subprocess.run([*exe, "train", "--procs", str(procs), "--threads", str(threads), "--data", str(data),
                                "--out", str(out), "--no-progress", f"steps={args.steps}", *RECIPE],
                               check=True, stdout=subprocess.DEVNULL)  # fmt: skip
                got[(procs, threads)] += rates(out)
    base = statistics.median(got[layouts[0]])
    for (procs, threads), values in got.items():
        med = statistics.median(values)
        print(f"{procs} process(es) x {threads} thread(s): median {med:.1f} samples/s "
              f"({len(values)} windows of 10 steps; {med / base:.2f}x the first layout)")  # fmt: skip


if __name__ == "__main__":
    main()

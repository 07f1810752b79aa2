"""Do a checkpoint's vision-tower features encode what the objects look like?

A linear probe: every labelled instance of the REC / RES / GREC / GRES records of a ShapesWorld folder whose
phrase names a colour and a shape ("the large blue square") is pooled from the tower's patch features (the
coverage-weighted mean over its region, as :mod:`vistakit.model.region_text` pools) and a logistic regression
learns its colour and its shape from the instances of ``--train-split``; accuracy is measured on those of
``--test-split`` (other scenes), beside the majority-class rate.

An instruction-conditioned tower (``vision.instruction_film``) computes its features for an instruction:
``--instruction neutral`` (default) gives every image the caption prompt "Describe the image briefly." — what the
tower knows on its own; ``own`` gives each image its record's prompt, which names the colour and shape being
probed, so the words can reach the features through the condition; ``none`` computes them with no instruction at
all (a zero condition, :meth:`VistaModel.plain_features`: the features the vision pre-training stage trains).

    python research/attribute_probe.py src/vistakit/checkpoints/reference data/sw120 --test-data data/sw_eval \\
        --train-split train --test-split test
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import torch

from vistakit.data.dataset import RecordDataset
from vistakit.data.shapesworld.scene import COLOURS
from vistakit.data.shapesworld.shapes import SHAPES
from vistakit.model.loading import load_pretrained
from vistakit.model.region_text import region_text_targets

NEUTRAL = "Describe the image briefly."
TASKS = ["rec", "res", "grec", "gres"]


def instances(model, processor, path: Path, limit: int, instruction: str):
    """(pooled features [M, D], colour index [M], shape index [M]) of up to ``limit`` records' instances."""
    records = []
    for r in RecordDataset(path, tasks=TASKS):
        words = [set((label or "").split()) for label in (r.targets.labels or [])]
        if words and all(w & set(COLOURS) and w & set(SHAPES) for w in words):
            records.append(r)
        if len(records) >= limit:
            break
    if not records:
        raise SystemExit(f"no {'/'.join(TASKS)} records naming a colour and a shape in {path}")
    grid = int(model.config.vision.num_patches**0.5)
    feats, colours, shapes = [], [], []
    captured: dict[str, torch.Tensor] = {}
    hook = model.vision.register_forward_hook(lambda m, a, out: captured.__setitem__("patches", out))
    for i in range(0, len(records), 32):
        chunk = records[i : i + 32]
        shown = chunk
        if instruction == "neutral":
            shown = [dataclasses.replace(r, prompt="\n".join(r.prompt.split("\n")[:-1] + [NEUTRAL])) for r in chunk]
        batch = processor.from_records(shown, with_answers=False)
        targets = region_text_targets(chunk, batch.transforms, grid, lambda s: [0], 0)
        if targets is None:
            continue
        with torch.no_grad():
            if instruction == "none":
                captured["patches"] = model.plain_features(batch["pixel_values"])
            else:
                model.encode_images(batch["pixel_values"], batch["image_to_sample"], batch["instruction_ids"],
                                    batch["instruction_mask"])  # fmt: skip
        patches = captured["patches"].float()
        pooled = torch.einsum("mp,mpd->md", targets["region_weights"], patches[targets["region_image"]])
        feats.append(pooled)
        for r in chunk:
            for label in (r.targets.labels or [])[: len(r.targets.masks or r.targets.boxes or [])]:
                w = label.split()
                colours.append(list(COLOURS).index(next(x for x in w if x in COLOURS)))
                shapes.append(list(SHAPES).index(next(x for x in w if x in SHAPES)))
    hook.remove()
    x = torch.cat(feats)
    if len(colours) != len(x):
        raise SystemExit(f"{path}: {len(x)} pooled instances but {len(colours)} labels (an instance covered no patch?)")
    return x, torch.tensor(colours), torch.tensor(shapes)


def probe(x_train, y_train, x_test, y_test, classes: int, steps: int = 500) -> float:
    """Held-out accuracy of a (weight-decayed) logistic regression on standardised features."""
    torch.manual_seed(0)
    mu, sd = x_train.mean(0), x_train.std(0) + 1e-5
    head = torch.nn.Linear(x_train.shape[1], classes)
    opt = torch.optim.Adam(head.parameters(), 1e-2, weight_decay=1e-4)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(head((x_train - mu) / sd), y_train).backward()
        opt.step()
    with torch.no_grad():
        return float((head((x_test - mu) / sd).argmax(1) == y_test).float().mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("data", type=Path, help="the ShapesWorld folder the probe trains on")
    ap.add_argument("--test-data", type=Path, help="the folder it is tested on (default: data)")
    ap.add_argument("--train-split", default="train")
    ap.add_argument("--test-split", default="val")
    ap.add_argument("--train-records", type=int, default=1500)
    ap.add_argument("--test-records", type=int, default=500)
    ap.add_argument("--instruction", choices=["neutral", "own", "none"], default="neutral")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    test_data = args.test_data or args.data
    for folder, split in ((args.data, args.train_split), (test_data, args.test_split)):
        if not (folder / f"{split}.jsonl").is_file():
            raise SystemExit(
                f"{folder} has no {split}.jsonl (expected a ShapesWorld folder from `vistakit data generate`)"
            )
    try:
        model, processor = load_pretrained(args.checkpoint)
    except (FileNotFoundError, ValueError) as exc:
        raise SystemExit(f"cannot load the checkpoint {args.checkpoint}: {exc}") from None
    model.eval()
    xa, ca, sa = instances(
        model, processor, args.data / f"{args.train_split}.jsonl", args.train_records, args.instruction
    )
    xb, cb, sb = instances(
        model, processor, test_data / f"{args.test_split}.jsonl", args.test_records, args.instruction
    )
    print(f"{args.checkpoint} (instruction: {args.instruction}): {len(xa)} training / {len(xb)} test instances")
    for name, ya, yb, k in (("colour", ca, cb, len(COLOURS)), ("shape", sa, sb, len(SHAPES))):
        chance = float(np.bincount(yb.numpy(), minlength=k).max() / len(yb))
        print(f"  {name:6s} accuracy {probe(xa, ya, xb, yb, k):.3f}  (majority class {chance:.3f})")


if __name__ == "__main__":
    main()

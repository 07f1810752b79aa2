"""How well does a trained grounding model's relevance map alone localize the referred object?

For the REC records of a split, read the image tokenizer's relevance map out as a box — with the model's own
:class:`~vistakit.model.grounding.SoftBox` when it writes where-tokens, else a fresh one (sharpness 8, offset 0.5)
— and score it like the REC task (Acc@0.5 against the gold box), beside the share of records whose highest-scoring
patch lies inside the gold box. Compare with ``vistakit eval --tasks rec`` of the same checkpoint: a map that
localizes better than the model's answers means the location gets lost between the tokenizer and the language
model (the reason for ``image_tokenizer.where_tokens``).

``--oracle`` replaces the model's map by the exact one — each patch's covered fraction of the gold region, the
grounding loss's own target — read out by the same box: the ceiling of answering with the map's box on this
patch grid.

    python research/relevance_box.py src/vistakit/checkpoints/reference data/sw --splits val test [--oracle]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from vistakit.data.dataset import RecordDataset
from vistakit.model.grounding import SoftBox, grounding_targets
from vistakit.model.loading import load_pretrained


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("data", type=Path, help="a ShapesWorld folder")
    ap.add_argument("--splits", nargs="+", default=["val"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--oracle", action="store_true", help="score the exact map (gold coverage per patch) instead")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, processor = load_pretrained(args.checkpoint)
    if not model.config.image_tokenizer.grounding or model.config.image_tokenizer.kind != "instruction":
        raise SystemExit(f"{args.checkpoint} has no relevance map (image_tokenizer.grounding is off)")
    missing = [s for s in args.splits if not (args.data / f"{s}.jsonl").is_file()]
    if missing:
        raise SystemExit(f"{args.data} has no {', '.join(f'{s}.jsonl' for s in missing)} (expected a ShapesWorld "
                         f"folder, e.g. made by `vistakit data generate`)")  # fmt: skip
    records = [r for s in args.splits for r in RecordDataset(args.data / f"{s}.jsonl", tasks=["rec"])]
    if not records:
        raise SystemExit(f"no REC records in {args.data} splits {args.splits}")
    soft_box = model.image_tokenizer.soft_box or SoftBox()
    ious, inside = [], []
    for i in range(0, len(records), 64):
        chunk = records[i : i + 64]
        batch = processor.from_records(chunk, with_answers=False)
        with torch.no_grad():
            if args.oracle:  # logits whose sharpened sigmoid is exactly the covered fraction of each patch
                grid = model.config.relevance_grid
                cover = grounding_targets(chunk, batch.transforms, grid)[:, 0].clamp(1e-6, 1 - 1e-6)
                rel = soft_box.offset + torch.logit(cover) / soft_box.sharpness
            else:
                rel = model.encode_images(batch["pixel_values"], batch["image_to_sample"], batch["instruction_ids"],
                                          batch["instruction_mask"]).relevance[:, 0]  # fmt: skip (first map)
            box = soft_box(rel).numpy()
        grid = int(round(rel.shape[1] ** 0.5))
        best = rel.argmax(1).numpy()
        for r, b, k in zip(chunk, box, best):
            side = float(max(r.image_sizes[0]))  # the canvas frame: original pixels / max(w, h)
            g = np.asarray(r.targets.boxes[0], np.float64) / side
            lt, rb = np.maximum(b[:2], g[:2]), np.minimum(b[2:], g[2:])
            inter = float(np.prod(np.clip(rb - lt, 0, None)))
            union = float(np.prod(b[2:] - b[:2]) + np.prod(g[2:] - g[:2]) - inter)
            ious.append(inter / union if union > 0 else 0.0)
            cx, cy = ((k % grid) + 0.5) / grid, ((k // grid) + 0.5) / grid
            inside.append(g[0] <= cx <= g[2] and g[1] <= cy <= g[3])
    ious_a = np.asarray(ious)
    what = "the exact map (--oracle)" if args.oracle else "the model's map"
    print(f"{args.checkpoint}: {len(records)} REC records ({', '.join(args.splits)}), {what}")
    print(f"relevance box Acc@0.5 {np.mean(ious_a >= 0.5):.3f} · Acc@0.75 {np.mean(ious_a >= 0.75):.3f} · "
          f"mean IoU {ious_a.mean():.3f} · "
          f"top patch inside the gold box {np.mean(inside):.3f}")  # fmt: skip


if __name__ == "__main__":
    main()

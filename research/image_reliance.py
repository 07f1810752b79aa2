"""Does a model use its images? Its loss on real records against the same records with the images shuffled
across the batch or blanked. Equal losses mean the answers are predicted from the text alone.

    python research/image_reliance.py CHECKPOINT DATA_DIR/val.jsonl rec,caption [--n 64]
"""

from __future__ import annotations

import argparse

import torch

from vistakit.data.dataset import RecordDataset
from vistakit.model import load_pretrained


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("records", help="a .jsonl split")
    ap.add_argument("tasks", help="comma-separated tasks")
    ap.add_argument("--n", type=int, default=64, help="records (default 64)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    model, processor = load_pretrained(args.checkpoint)
    model.eval()
    tasks = set(args.tasks.split(","))
    records = [r for r in RecordDataset(args.records) if r.task in tasks][: args.n]
    batch = processor.from_records(records)
    batch.pop("grounding", None)  # the answers' loss only (a grounding model's relevance loss is left out)
    perm = torch.randperm(batch["pixel_values"].shape[0], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        real = model(**batch).loss.item()
        shuffled = model(**{**batch, "pixel_values": batch["pixel_values"][perm]}).loss.item()
        blank = model(**{**batch, "pixel_values": torch.zeros_like(batch["pixel_values"])}).loss.item()
    print(f"{len(records)} records ({args.tasks}): loss real {real:.4f}, shuffled images {shuffled:.4f}, "
          f"blank images {blank:.4f}")


if __name__ == "__main__":
    main()

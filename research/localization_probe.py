"""Where does localization get stuck? Two diagnostics of the REC task, each a short training run on ShapesWorld.

``--mode vision``: train a model's vision side alone — the preset's vision tower and image tokenizer, reading the
instruction as the model does — with a small head on the mean image token regressing the referred object's box
(L1 on coordinates / image side). It answers: can the vision side find the referred object at all within the
budget? ``--arch cnn`` runs the same probe with a plain convolutional baseline instead (coordinate channels; the
instruction as a bag of words that scales and shifts the feature maps), to calibrate how hard the task is.

``--mode grounding``: train the vision tower and the instruction-guided tokenizer on the grounding loss alone
(:mod:`vistakit.model.grounding`: a dense per-patch target — which patches hold what the instruction names —
instead of one box). It answers: is *where* learnable quickly from a dense signal? Reported: the patch IoU of
the relevance map (logit > 0) with the patches the box covers by more than 30 %.

``--mode oracle``: train the whole model on REC with the first four image slots of every sample overwritten by
the embeddings of the answer's own ``<loc_k>`` tokens. The location-token loss falls to ~0 only if the language
model can read a location out of the image slots and write it: it checks the LM side in isolation.

    python research/localization_probe.py --data data/sw --mode vision --steps 1500
    python research/localization_probe.py --data data/sw --mode vision --arch cnn --steps 1500
    python research/localization_probe.py --data data/sw --mode grounding --steps 600
    python research/localization_probe.py --data data/sw --mode oracle --steps 300

Validation: the REC records of the val and test splits (box Acc@0.5 of the regressed box; for the oracle, the mean
cross-entropy of the location tokens with the oracle slots, on the first 64).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vistakit.data.dataset import RecordDataset
from vistakit.data.record import Record
from vistakit.model import create_model, make_config
from vistakit.model.grounding import grounding_loss
from vistakit.train.mixture import TaskMixture


def load_rec(data: Path, split: str) -> list[Record]:
    path = data / f"{split}.jsonl"
    return list(RecordDataset(path, tasks=["rec"])) if path.is_file() else []


def boxes_of(records: list[Record]) -> torch.Tensor:
    """The referred box of each record as [x1, y1, x2, y2] / image side, [N, 4]."""
    out = []
    for r in records:
        w, h = r.image_sizes[0]
        out.append(np.asarray(r.targets.boxes, np.float32).reshape(-1, 4)[0] / np.array([w, h, w, h], np.float32))
    return torch.from_numpy(np.stack(out))


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    lt, rb = torch.maximum(a[:, :2], b[:, :2]), torch.minimum(a[:, 2:], b[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(1)
    area = lambda x: (x[:, 2:] - x[:, :2]).clamp(min=0).prod(1)  # noqa: E731
    return inter / (area(a) + area(b) - inter + 1e-9)


class VisionProbe(nn.Module):
    """The model's vision tower + image tokenizer (instruction-guided or not) → mean token → MLP → box."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        hidden = model.config.lm.hidden
        self.head = nn.Sequential(nn.Linear(hidden, 256), nn.GELU(), nn.Linear(256, 4))

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        tokens = self.model.encode_images(batch["pixel_values"], batch["image_to_sample"], batch["instruction_ids"],
                                          batch["instruction_mask"])  # fmt: skip
        return self.head(tokens.tokens.mean(1))


class FilmCNN(nn.Module):
    """Baseline: a 6-layer CNN at full resolution with x/y coordinate channels; the instruction's mean token
    embedding scales and shifts the features twice (FiLM)."""

    def __init__(self, vocab: int, size: int, width: int = 64) -> None:
        super().__init__()
        self.words = nn.Embedding(vocab, 4 * width)
        conv = lambda i, o, s=1: nn.Sequential(nn.Conv2d(i, o, 3, s, 1), nn.ReLU())  # noqa: E731
        self.block1 = nn.Sequential(conv(5, width), conv(width, width))
        self.block2 = nn.Sequential(conv(width, width, 2), conv(width, width))
        self.block3 = nn.Sequential(conv(width, width, 2), conv(width, width))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(width * (size // 4) ** 2, 256), nn.ReLU(), nn.Linear(256, 4))
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
        self.register_buffer("coords", torch.stack([ys, xs])[None], persistent=False)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        mask = batch["instruction_mask"].float()[..., None]
        words = (self.words(batch["instruction_ids"]) * mask).sum(1) / mask.sum(1).clamp(min=1)
        g1, b1, g2, b2 = (t[..., None, None] for t in words.chunk(4, 1))
        px = batch["pixel_values"]
        x = self.block1(torch.cat([px, self.coords.expand(len(px), -1, -1, -1)], 1))
        x = self.block2(x * (1 + g1) + b1)
        return self.head(self.block3(x * (1 + g2) + b2))


def run_vision(args: argparse.Namespace, model, processor, mixture: TaskMixture, val: list[Record]) -> None:
    net = FilmCNN(len(processor.tokenizer), model.config.canvas) if args.arch == "cnn" else VisionProbe(model)
    opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.05)
    gold_val = boxes_of(val)
    val_batch = processor.from_records(val, with_answers=False)
    t0 = time.perf_counter()
    for step in range(1, args.steps + 1):
        records = mixture.batch(step, args.batch_size)
        loss = (net(processor.from_records(records, with_answers=False)) - boxes_of(records)).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % args.eval_every == 0 or step == args.steps:
            net.eval()
            with torch.no_grad():
                pred = net(val_batch)
            net.train()
            acc = float((box_iou(pred, gold_val) >= 0.5).float().mean())
            l1 = float((pred - gold_val).abs().mean())
            print(f"step {step}: train L1 {loss.item():.4f} · val L1 {l1:.4f} · val Acc@0.5 {acc:.3f} "
                  f"({len(val)} records) · {time.perf_counter() - t0:.0f} s", flush=True)  # fmt: skip


def run_grounding(args: argparse.Namespace, model, processor, mixture: TaskMixture, val: list[Record]) -> None:
    if not model.config.image_tokenizer.grounding:
        raise SystemExit("--mode grounding needs a grounding tokenizer (image_tokenizer.grounding=true)")
    parts = [model.vision, model.image_tokenizer, model.lm.get_input_embeddings(), model.instruction_pool,
             model.instruction_words]
    params = [p for part in parts if part is not None for p in part.parameters()]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.05)

    def relevance(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return model.encode_images(batch["pixel_values"], batch["image_to_sample"], batch["instruction_ids"],
                                   batch["instruction_mask"]).relevance  # fmt: skip

    val_batch = processor.from_records(val)
    t0 = time.perf_counter()
    for step in range(1, args.steps + 1):
        batch = processor.from_records(mixture.batch(step, args.batch_size))
        loss = grounding_loss(relevance(batch), batch["grounding"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % args.eval_every == 0 or step == args.steps:
            model.eval()
            with torch.no_grad():
                pred, gold = relevance(val_batch) > 0, val_batch["grounding"] > 0.3
            model.train()
            iou = ((pred & gold).sum(-1) / (pred | gold).sum(-1).clamp(min=1)).mean()
            print(f"step {step}: train grounding loss {loss.item():.4f} · val patch IoU {float(iou):.3f} "
                  f"({len(val)} records) · {time.perf_counter() - t0:.0f} s", flush=True)  # fmt: skip


def run_oracle(args: argparse.Namespace, model, processor, mixture: TaskMixture, val: list[Record]) -> None:
    tok = processor.tokenizer
    loc_ids = torch.tensor(tok.convert_tokens_to_ids([f"<loc_{k}>" for k in range(model.config.bins)]))
    embed = model.lm.get_input_embeddings()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)

    def loss_of(records: list[Record], locs_only: bool) -> torch.Tensor:
        batch = processor.from_records(records, truncation=True)
        ids = batch["input_ids"]
        embeds = model.embed(batch["pixel_values"], batch["image_to_sample"], ids, batch["instruction_ids"],
                             batch["instruction_mask"])  # fmt: skip
        slots = ids == model.config.image_pad_id
        is_loc = torch.isin(ids, loc_ids)
        rows = []
        for b in range(len(records)):  # the first four image slots ← the answer's four box tokens
            locs, where = ids[b][is_loc[b]][:4], slots[b].nonzero()[:4, 0]
            row = embeds[b].clone()
            row[where[: len(locs)]] = embed(locs).to(row.dtype)
            rows.append(row)
        out = model.lm(inputs_embeds=torch.stack(rows), attention_mask=batch["attention_mask"],
                       position_ids=model.position_ids(batch["attention_mask"]))  # fmt: skip
        labels = batch["labels"][:, 1:].clone()
        if locs_only:
            labels[~torch.isin(labels, loc_ids)] = -100
        return nn.functional.cross_entropy(out.logits[:, :-1].reshape(-1, out.logits.shape[-1]), labels.reshape(-1))

    t0 = time.perf_counter()
    for step in range(1, args.steps + 1):
        loss = loss_of(mixture.batch(step, args.batch_size), locs_only=False)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % args.eval_every == 0 or step == args.steps:
            model.eval()
            with torch.no_grad():
                val_loss = float(loss_of(val[:64], locs_only=True))
            model.train()
            print(f"step {step}: train loss {loss.item():.4f} · val location-token loss {val_loss:.4f} "
                  f"(chance {np.log(model.config.bins):.2f}) · {time.perf_counter() - t0:.0f} s", flush=True)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="a ShapesWorld folder with train / val (/ test) splits")
    ap.add_argument("--mode", choices=("vision", "grounding", "oracle"), default="vision")
    ap.add_argument("--arch", choices=("model", "cnn"), default="model", help="vision mode: the preset's or the CNN")
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--set", action="append", default=[], help="a model override a.b=value (repeatable)")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train = load_rec(args.data, "train")
    val = load_rec(args.data, "val") + load_rec(args.data, "test")
    if not train or not val:
        raise SystemExit(f"{args.data}: need REC records in train.jsonl and in val.jsonl / test.jsonl")
    texts = (t for r in train for t in (r.prompt, r.answer))
    model, processor = create_model(make_config(args.preset, args.set), texts)
    mixture = TaskMixture(train, seed=args.seed)
    print(f"{args.mode} probe ({args.arch if args.mode == 'vision' else args.preset}): {len(train)} REC training "
          f"records, {len(val)} validation records", flush=True)  # fmt: skip
    run = {"vision": run_vision, "grounding": run_grounding, "oracle": run_oracle}[args.mode]
    run(args, model, processor, mixture, val)


if __name__ == "__main__":
    main()

"""Can the relevance head, alone, learn which object a comparison question names first?

``question_map.py --comparisons`` shows the trained maps not telling a comparison's two objects apart ("Is the A
left of / larger than the B?": the relevance map should find the A, the anchor map the B), whatever the training
mixture. This separates the head's form from the training around it: it records what the relevance head receives
(the tower's patch features, already conditioned on the instruction, and the instruction's word embeddings) for
the comparison questions of a split made with ``--question-grounding objects`` and, with ``--rec N``, for its first
N REC and N RES records too (their own map, anchor and relation targets, so the head keeps what it does for
referring expressions), then trains a copy of the head alone on those inputs with the model's own map losses
(relevance and anchor BCE, relation cross-entropy; nothing else) and reports, before and after, how often each
map's strongest patch lies on its object (in brackets: on the other), on the training questions and on held-out
ones. The tower is fixed, so its features are computed once: 1,500 steps take about a minute on 2 cores.

    python benchmarks/head_fit.py CHECKPOINT data/sw_gqo/train.jsonl data/sw_eval_gqo/test.jsonl [--steps 1500]

``--context L``: the head reads each word as its embedding plus a learned per-channel gate (zero at first, trained
with the head) times the LM's hidden state of that word after L layers, the LM run over the instruction alone —
words in context rather than a bag of embeddings with positions. ``--save DIR``: write the checkpoint with the
fitted head (without ``--context``) to DIR — a probe of what a head stage would give, not a training recipe.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import torch
import torch.nn.functional as F

from vistakit.data.dataset import RecordDataset
from vistakit.model.grounding import anchor_loss, grounding_loss, relation_loss
from vistakit.model.loading import load_pretrained

LENGTH = 64  # instructions padded to one length so every chunk stacks


def is_comparison(record) -> bool:
    return record.meta.get("grounding_mask") is not None and record.meta.get("anchor_mask") is not None


def head_inputs(model, processor, path: Path, limit: int, rec: int, context: int) -> dict[str, torch.Tensor]:
    """The relevance head's inputs and targets for the comparison questions of ``path`` (and ``rec`` REC and RES
    records each); ``cmp`` marks the comparisons."""
    data = list(RecordDataset(path, tasks=["vqa", "rec", "res"]))
    records = [r for r in data if r.task == "vqa" and is_comparison(r)][:limit]
    if not records:
        raise SystemExit(f"no VQA records with both meta.grounding_mask and meta.anchor_mask in {path} "
                         "(make the split with --question-grounding objects)")  # fmt: skip
    for task in ("rec", "res"):
        records += [r for r in data if r.task == task][:rec]
    seen: list[tuple[torch.Tensor, ...]] = []
    hook = model.image_tokenizer.relevance.register_forward_hook(lambda m, args, out: seen.append(args))
    keys = ("patches", "words", "context", "mask", "grounding", "anchor", "relation")
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in keys}
    try:
        for i in range(0, len(records), 64):
            batch = processor.from_records(records[i : i + 64], with_answers=True)
            with torch.no_grad():
                model.encode_images(batch["pixel_values"], batch["image_to_sample"], batch["instruction_ids"],
                                    batch["instruction_mask"])  # fmt: skip
                states = model.lm.base_model(input_ids=batch["instruction_ids"], attention_mask=batch["instruction_mask"],
                                             output_hidden_states=True).hidden_states[context]  # fmt: skip
            patches, words, mask = seen.pop()
            pad = (0, 0, 0, LENGTH - words.shape[1])
            ctx = states[batch["image_to_sample"]].float() if context else torch.zeros_like(words.float())
            for k, v in zip(keys, (patches.float(), F.pad(words.float(), pad), F.pad(ctx, pad),
                                   F.pad(mask, (0, LENGTH - mask.shape[1])), batch["grounding"].float(),
                                   batch["anchor_grounding"].float(), batch["relation_labels"])):  # fmt: skip
                parts[k].append(v)
    finally:
        hook.remove()
    out = {k: torch.cat(v) for k, v in parts.items()}
    out["cmp"] = torch.tensor([is_comparison(r) for r in records])
    return out


def run(head, gate: torch.Tensor, data: dict[str, torch.Tensor], idx: torch.Tensor):
    return head(data["patches"][idx], data["words"][idx] + gate * data["context"][idx], data["mask"][idx])


def hits(head, gate: torch.Tensor, data: dict[str, torch.Tensor]) -> str:
    """On the comparisons: how often each map's strongest patch lies on its object (and on the other one)."""
    idx = data["cmp"].nonzero()[:, 0]
    with torch.no_grad():
        relevance, (anchor, _) = run(head, gate, data, idx)
    first, second = relevance[:, 0].argmax(1), anchor.argmax(1)
    a, b = data["grounding"][idx, 0] > 0, data["anchor"][idx] > 0

    def on(m: torch.Tensor, i: torch.Tensor) -> float:
        return m.gather(1, i[:, None]).float().mean().item()

    return (f"map on A {on(a, first):.3f} (on B {on(b, first):.3f}) · anchor on B {on(b, second):.3f} "
            f"(on A {on(a, second):.3f})")  # fmt: skip


def loss(head, gate: torch.Tensor, data: dict[str, torch.Tensor], idx: torch.Tensor, relation_weight: float = 1.0):
    """The model's map losses (:meth:`VistaModel.forward` adds the same three, × grounding_weight), the relation's
    × ``relation_weight``."""
    relevance, (anchor, which) = run(head, gate, data, idx)
    rel = relation_loss(which, data["relation"][idx])
    parts = (grounding_loss(relevance, data["grounding"][idx]), anchor_loss(anchor, data["anchor"][idx]),
             None if rel is None else relation_weight * rel)  # fmt: skip
    return sum(p for p in parts if p is not None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("train", type=Path, help="a split made with --question-grounding objects: the head trains here")
    ap.add_argument("heldout", type=Path, help="another such split: scored only")
    ap.add_argument("--limit", type=int, default=2000, help="most comparison questions per split (default 2000)")
    ap.add_argument("--rec", type=int, default=0, help="REC and RES records each trained on beside them (default 0)")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--context", type=int, default=0, metavar="L",
                    help="also read the LM's layer-L states of the words through a learned gate (default 0: off)")
    ap.add_argument("--relation-weight", type=float, default=1.0,
                    help="the relation's cross-entropy × this (default 1, as in training; 0 leaves it out)")
    ap.add_argument("--save", type=Path, default=None, help="write the checkpoint with the fitted head here")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    for path in (args.train, args.heldout):
        if not path.is_file():
            raise SystemExit(f"no such record file: {path} (expected a JSON Lines split)")
    if args.steps < 1 or args.limit < 1 or args.rec < 0 or args.lr <= 0 or args.relation_weight < 0:
        raise SystemExit("--steps and --limit must be >= 1, --rec and --relation-weight >= 0, --lr > 0")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model, processor = load_pretrained(args.checkpoint)
    it = model.config.image_tokenizer
    if not (it.kind == "instruction" and it.grounding and it.relations):
        raise SystemExit(f"{args.checkpoint} has no relevance head with a relation term (image_tokenizer.relations)")
    if not 0 <= args.context <= model.config.lm.layers:
        raise SystemExit(f"--context must be 0..{model.config.lm.layers} (the LM's layers), got {args.context}")
    if args.save is not None and args.context:
        raise SystemExit("--save writes a model the code can run: without --context")
    model.eval()
    train = head_inputs(model, processor, args.train, args.limit, args.rec, args.context)
    heldout = head_inputs(model, processor, args.heldout, args.limit, 0, args.context)
    head = copy.deepcopy(model.image_tokenizer.relevance).float().train()
    gate = torch.zeros(model.config.lm.hidden, requires_grad=bool(args.context))
    n = len(train["cmp"])
    print(f"{args.checkpoint}: {int(train['cmp'].sum())} training comparisons (+ {n - int(train['cmp'].sum())} "
          f"REC / RES records) / {int(heldout['cmp'].sum())} held-out comparisons")  # fmt: skip
    print(f"before   train: {hits(head, gate, train)}\n         held-out: {hits(head, gate, heldout)}")
    opt = torch.optim.AdamW([*head.parameters(), *([gate] if args.context else [])], lr=args.lr, weight_decay=0.0)
    for step in range(1, args.steps + 1):
        value = loss(head, gate, train, torch.randint(n, (64,)), args.relation_weight)
        opt.zero_grad()
        value.backward()
        opt.step()
        if step % 500 == 0 or step == args.steps:
            with torch.no_grad():
                full = loss(head, gate, train, torch.arange(n), args.relation_weight).item()
                held = loss(head, gate, heldout, torch.arange(len(heldout["cmp"])), args.relation_weight).item()
            print(f"step {step}: loss train {full:.4f} held-out {held:.4f}")
    print(f"after    train: {hits(head, gate, train)}\n         held-out: {hits(head, gate, heldout)}")
    if args.save is not None:
        model.image_tokenizer.relevance.load_state_dict(head.state_dict())
        model.save_pretrained(args.save, processor)
        print(f"checkpoint with the fitted head in {args.save}")


if __name__ == "__main__":
    main()

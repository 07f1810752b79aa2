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

    python research/head_fit.py CHECKPOINT data/sw_gqo/train.jsonl data/sw_eval_gqo/test.jsonl [--steps 1500]

``--context L``: the head reads each word as its embedding plus a learned per-channel gate (zero at first, trained
with the head) times the LM's hidden state of that word after L layers, the LM run over the instruction alone —
words in context rather than a bag of embeddings with positions. ``--save DIR``: write the checkpoint with the
fitted head (without ``--context``) to DIR — a probe of what a head stage would give, not a training recipe.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from vistakit.data.dataset import RecordDataset
from vistakit.model.loading import load_pretrained
from vistakit.train.relevance_fit import fit_head, head_inputs, head_loss, map_hits, select_records


def inputs(model, processor, path: Path, limit: int, rec: int, context: int) -> dict[str, torch.Tensor]:
    try:
        records = select_records(list(RecordDataset(path, tasks=["vqa", "rec", "res"])), limit, rec)
    except ValueError as exc:
        raise SystemExit(f"{path}: {exc}") from None
    return head_inputs(model, processor, records, context)


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
    model, processor = load_pretrained(args.checkpoint)
    it = model.config.image_tokenizer
    if not (it.kind == "instruction" and it.grounding and it.relations):
        raise SystemExit(f"{args.checkpoint} has no relevance head with a relation term (image_tokenizer.relations)")
    if not 0 <= args.context <= model.config.lm.layers:
        raise SystemExit(f"--context must be 0..{model.config.lm.layers} (the LM's layers), got {args.context}")
    if args.save is not None and args.context:
        raise SystemExit("--save writes a model the code can run: without --context")
    train = inputs(model, processor, args.train, args.limit, args.rec, args.context)
    heldout = inputs(model, processor, args.heldout, args.limit, 0, args.context)
    head = model.image_tokenizer.relevance
    gate = torch.zeros(model.config.lm.hidden, requires_grad=bool(args.context))
    n = len(train["cmp"])
    print(f"{args.checkpoint}: {int(train['cmp'].sum())} training comparisons (+ {n - int(train['cmp'].sum())} "
          f"REC / RES records) / {int(heldout['cmp'].sum())} held-out comparisons")  # fmt: skip
    print(f"before   train: {map_hits(head, train, gate)}\n         held-out: {map_hits(head, heldout, gate)}")

    def log(step: int, value: float, fitting) -> None:
        with torch.no_grad():
            held = head_loss(fitting, gate, heldout, torch.arange(len(heldout["cmp"])), args.relation_weight).item()
        print(f"step {step}: loss train {value:.4f} held-out {held:.4f}")

    head = fit_head(head, train, args.steps, lr=args.lr, relation_weight=args.relation_weight, gate=gate, log=log)
    print(f"after    train: {map_hits(head, train, gate)}\n         held-out: {map_hits(head, heldout, gate)}")
    if args.save is not None:
        model.image_tokenizer.relevance.load_state_dict(head.state_dict())
        model.save_pretrained(args.save, processor)
        print(f"checkpoint with the fitted head in {args.save}")


if __name__ == "__main__":
    main()

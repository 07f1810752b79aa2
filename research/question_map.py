"""Does the relevance map tell a yes from a no on ShapesWorld's position questions?

A grounded position question ("Is the star to the left of the square?", ``vistakit data generate
--ground-questions position``) trains the image tokenizer's relevance map on the star when the answer is yes and
on nothing when it is no. This reads the map of every position question of a split (``meta.question_kind ==
"position"``) and reports how well its strongest patch logit separates the two answers: the AUC (0.5: not at all;
1.0: every yes above every no) and the median logit of each.

    python research/question_map.py CHECKPOINT data/sw_eval/test.jsonl [--threads 2]

``--comparisons``: for the position and size questions of a split made with ``--question-grounding objects``
(each names its first object in ``meta.grounding_mask`` and its second in ``meta.anchor_mask``, whatever the
answer), how often the relevance map's strongest patch lies on the first object and the anchor map's on the
second (and, in brackets, on the other one) — do the two maps find the two things the question compares?

    python research/question_map.py CHECKPOINT data/sw_gqo/val.jsonl --comparisons

``--box-rule PRED.jsonl``: for the position and size questions of any split, how often a fixed rule on the model's
own two soft boxes (the relevance map's against the anchor map's: which centre lies further along the relation,
which box is larger) gives the gold answer, beside the model's answers in PRED.jsonl (``vistakit eval
--predictions``) — is the LM reading what its two boxes say?

    python research/question_map.py CHECKPOINT data/sw_eval/test.jsonl --box-rule PRED/vqa.jsonl
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
import torch

from vistakit.data.dataset import RecordDataset
from vistakit.model.loading import load_pretrained


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """The probability that a random positive scores above a random negative (ties count half)."""
    diff = positive[:, None] - negative[None, :]
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


def encoded(model, processor, records: list, with_answers: bool = False):
    """Yield ``(chunk, batch, image tokens)`` for the records in chunks of 64, images encoded without gradients."""
    for i in range(0, len(records), 64):
        chunk = records[i : i + 64]
        batch = processor.from_records(chunk, with_answers=with_answers)
        with torch.no_grad():
            out = model.encode_images(batch["pixel_values"], batch["image_to_sample"], batch["instruction_ids"],
                                      batch["instruction_mask"])  # fmt: skip
        yield chunk, batch, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("records", type=Path, help="a JSON Lines split holding ShapesWorld VQA records")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--comparisons", action="store_true",
                    help="score both maps on objects-grounded comparison questions (see above)")
    ap.add_argument("--box-rule", type=Path, metavar="PRED", help="score a rule on the two boxes against PRED (above)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, processor = load_pretrained(args.checkpoint)
    if not model.config.image_tokenizer.grounding or model.config.image_tokenizer.kind != "instruction":
        raise SystemExit(f"{args.checkpoint} has no relevance map (image_tokenizer.grounding is off)")
    if args.comparisons:
        comparisons(model, processor, args)
        return
    if args.box_rule:
        box_rule(model, processor, args)
        return
    records = [r for r in RecordDataset(args.records, tasks=["vqa"]) if r.meta.get("question_kind") == "position"]
    if not records:
        raise SystemExit(f"no VQA position questions (meta.question_kind 'position') in {args.records}")
    strongest = []
    for _, _, out in encoded(model, processor, records):
        strongest += out.relevance[:, 0].max(1).values.float().tolist()  # the first map
    s = np.asarray(strongest)
    yes = np.asarray([(r.targets.answers or [""])[0] == "yes" for r in records])
    if yes.all() or not yes.any():
        raise SystemExit(f"the {len(records)} position questions all have the same answer; no AUC to report")
    print(f"{args.checkpoint}: {len(records)} position questions of {args.records} ({yes.sum()} yes)")
    print(f"strongest patch logit: AUC yes vs no {auc(s[yes], s[~yes]):.3f} · median yes {np.median(s[yes]):+.2f} · "
          f"median no {np.median(s[~yes]):+.2f}")  # fmt: skip


def comparisons(model, processor, args: argparse.Namespace) -> None:
    """Per question kind: how often each map's strongest patch lies on the object it should find."""
    if not model.config.image_tokenizer.relations:
        raise SystemExit(f"{args.checkpoint} has no anchor map (image_tokenizer.relations is off)")
    records = [r for r in RecordDataset(args.records, tasks=["vqa"])
               if r.meta.get("grounding_mask") is not None and r.meta.get("anchor_mask") is not None]  # fmt: skip
    if not records:
        raise SystemExit(f"no VQA records with both meta.grounding_mask and meta.anchor_mask in {args.records} "
                         "(make the split with --question-grounding objects)")  # fmt: skip
    hits: dict[str, list[tuple[bool, bool]]] = {}
    for chunk, batch, out in encoded(model, processor, records, with_answers=True):
        first = out.relevance[:, 0].argmax(1)
        second = out.anchor.argmax(1)
        a_map, b_map = batch["grounding"][:, 0] > 0, batch["anchor_grounding"] > 0
        on = lambda m, i: m.gather(1, i[:, None])[:, 0]  # noqa: E731 - is patch i[n] on object m[n]?
        rows = torch.stack([on(a_map, first), on(b_map, first), on(b_map, second), on(a_map, second)], 1)
        for r, row in zip(chunk, rows.tolist()):
            hits.setdefault(r.meta.get("question_kind", "?"), []).append(row)
    print(f"{args.checkpoint}: {len(records)} comparison questions of {args.records}")
    for kind, h in sorted(hits.items()):
        ra, rb, ab, aa = np.asarray(h, np.float64).mean(0)
        print(f"{kind:9s} n={len(h):4d}  relevance map on the first object {ra:.3f} (on the second {rb:.3f}) · "
              f"anchor map on the second {ab:.3f} (on the first {aa:.3f})")


_WHERE = {"to the left of": (0, -1), "to the right of": (0, 1), "above": (1, -1), "below": (1, 1)}


def rule_answer(question: str, a: np.ndarray, b: np.ndarray) -> str | None:
    """The answer a comparison question gets from box ``a`` (the first object) against box ``b`` (x1 y1 x2 y2)."""
    centre = lambda box: ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)  # noqa: E731
    area = lambda box: (box[2] - box[0]) * (box[3] - box[1])  # noqa: E731
    which = re.search(r"Which is larger, the (.+?) or the (.+?)\?", question)
    if which:
        return f"the {which.group(1) if area(a) > area(b) else which.group(2)}"
    if " larger than " in question:
        return "yes" if area(a) > area(b) else "no"
    for words, (axis, sign) in _WHERE.items():
        if f" {words} " in question:
            return "yes" if sign * (centre(a)[axis] - centre(b)[axis]) > 0 else "no"
    return None


def box_rule(model, processor, args: argparse.Namespace) -> None:
    """Per question kind: the rule on the two soft boxes, the model's answers, and either of them, against gold."""
    if model.image_tokenizer.anchor_box is None:
        raise SystemExit(f"{args.checkpoint} writes no anchor box (image_tokenizer.anchor_tokens is off)")
    if not args.box_rule.is_file():
        raise SystemExit(f"--box-rule {args.box_rule}: no such file (expected the vqa.jsonl of vistakit eval --predictions)")
    preds = {}
    with open(args.box_rule, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                p = json.loads(line)
                preds[p["id"]] = str(p.get("answer", ""))
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
                raise SystemExit(f"{args.box_rule} line {n}: expected a JSON object with an 'id' and an 'answer' "
                                 "(vistakit eval --predictions writes them)") from None
    records = [r for r in RecordDataset(args.records, tasks=["vqa"]) if r.meta.get("question_kind") in ("position", "size")]
    if not records:
        raise SystemExit(f"no VQA position or size questions (meta.question_kind) in {args.records}")
    rows: dict[str, list[tuple[bool, bool]]] = {}
    for chunk, _, out in encoded(model, processor, records):
        first, second = out.box[:, 0].float().numpy(), out.anchor_box.float().numpy()
        for r, a, b in zip(chunk, first, second):
            gold = (r.targets.answers or [""])[0]
            rule = rule_answer(r.prompt, a, b)
            rows.setdefault(r.meta["question_kind"], []).append((rule == gold, preds.get(r.id) == gold))
    print(f"{args.checkpoint}: {len(records)} comparison questions of {args.records}; answers {args.box_rule}")
    for kind, h in sorted(rows.items()):
        x = np.asarray(h, bool)
        print(f"{kind:9s} n={len(h):4d}  box rule {x[:, 0].mean():.3f} · model {x[:, 1].mean():.3f} · "
              f"either {x.any(1).mean():.3f}")


if __name__ == "__main__":
    main()

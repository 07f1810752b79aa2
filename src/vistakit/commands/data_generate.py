"""``vistakit data generate``: write a ShapesWorld split in the unified format (DIR/<split>.jsonl,
DIR/images/<split>/, DIR/dataset.json)."""

from __future__ import annotations

import argparse
import time


def _holdout(text: str) -> tuple[tuple[str, str], ...]:
    """'purple:star,green:hexagon' → (("purple", "star"), ("green", "hexagon")); 'none' → ()."""
    if text.strip().lower() == "none":
        return ()
    pairs = []
    for part in text.split(","):
        bits = [b.strip() for b in part.split(":")]
        if len(bits) != 2 or not all(bits):
            raise argparse.ArgumentTypeError(f"holdout pairs are colour:shape separated by commas, got {part!r}")
        pairs.append((bits[0], bits[1]))
    return tuple(pairs)


def _question_kinds(text: str) -> tuple[tuple[str, float], ...]:
    """'position:3,size:3,colour' → (("position", 3.0), ("size", 3.0), ("colour", 1.0))."""
    kinds = []
    for part in text.split(","):
        name, _, weight = (b.strip() for b in part.partition(":"))
        if not name:
            raise argparse.ArgumentTypeError(f"question kinds are KIND or KIND:WEIGHT separated by commas, got {text!r}")
        try:
            kinds.append((name, float(weight) if weight else 1.0))
        except ValueError:
            raise argparse.ArgumentTypeError(f"the weight of question kind {name!r} must be a number, got {weight!r}") from None
    return tuple(kinds)


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="dataset folder to write (created if missing; other splits kept)")
    p.add_argument("--split", default="train", choices=("train", "val", "test", "compositional"))
    p.add_argument("--n", type=int, default=1000, help="number of samples (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0); splits use disjoint streams")
    p.add_argument("--tasks", default="", help="comma-separated task names (default: all ShapesWorld tasks)")
    p.add_argument("--size", type=int, default=None, help="image side in pixels (default 64, the tiny preset)")
    p.add_argument("--holdout", type=_holdout, default=None,
                   help="held-out colour:shape pairs, comma-separated, or 'none' (default purple:star)")  # fmt: skip
    p.add_argument("--max-objects", type=int, default=5, help="most objects per scene (default 5)")
    p.add_argument("--cite-referents", default="", metavar="TASKS",
                   help="comma-separated tasks (vqa, nlvr) whose records list the objects their question or "
                        "statement names (targets boxes + labels), so their answers cite them before answering "
                        "(docs/shapesworld.md); default none")  # fmt: skip
    p.add_argument("--relation-rate", type=float, default=0.3, metavar="P",
                   help="how often a REC / RES sample tries a spatial relation ('the star left of the blue square') "
                        "before attributes (default 0.3; test splits keep the default)")  # fmt: skip
    p.add_argument("--ground-questions", default="", metavar="KINDS",
                   help="comma-separated VQA question kinds (position, size) whose records carry grounding "
                        "targets in meta for the relevance map to learn from (docs/shapesworld.md); default none")
    p.add_argument("--question-grounding", choices=("answer", "objects"), default="answer",
                   help="how --ground-questions reads a question: 'answer' (position only): the region its answer "
                        "rests on, as the relational expression it tests; 'objects': the two objects it compares, "
                        "the first as the map and the second as the anchor (default answer)")  # fmt: skip
    p.add_argument("--question-kinds", type=_question_kinds, default=(), metavar="KIND[:W],...",
                   help="the VQA question kinds to ask (colour, shape, count, exist, position, size), each as often "
                        "as its weight W (default 1) says; kinds not listed are not asked (default: all equally)")


def run(args: argparse.Namespace) -> int:
    from ..data.shapesworld import DEFAULT_HOLDOUT, DEFAULT_SIZE, GenerateConfig, generate_split

    cite = tuple(t.strip() for t in args.cite_referents.split(",") if t.strip())
    ground = tuple(t.strip() for t in args.ground_questions.split(",") if t.strip())
    cfg = GenerateConfig(
        split=args.split, n=args.n, seed=args.seed,
        tasks=tuple(t.strip() for t in args.tasks.split(",") if t.strip()),
        size=args.size or DEFAULT_SIZE, holdout=DEFAULT_HOLDOUT if args.holdout is None else args.holdout,
        max_objects=args.max_objects, cite_referents=cite, relation_rate=args.relation_rate,
        ground_questions=ground, question_grounding=args.question_grounding,
        question_kinds=args.question_kinds,
    )  # fmt: skip
    t0 = time.perf_counter()
    info = generate_split(args.out, cfg)
    dt = time.perf_counter() - t0
    tasks = ", ".join(f"{k} {v}" for k, v in info["tasks"][cfg.split].items())
    print(f"wrote {info['splits'][cfg.split]} {cfg.split} records to {args.out} in {dt:.1f} s ({tasks})")
    return 0

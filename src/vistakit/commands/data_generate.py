"""``vistakit data generate``: write a ShapesWorld split in the unified format (DIR/<split>.jsonl,
DIR/images/<split>/, DIR/dataset.json)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


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


def _scale_range(text: str) -> tuple[float, float]:
    """'0.8,1.2' → (0.8, 1.2); '1' → (1.0, 1.0)."""
    try:
        bits = [float(b) for b in text.split(",")]
    except ValueError:
        bits = []
    if len(bits) not in (1, 2):
        raise argparse.ArgumentTypeError(f"object scale is LOW,HIGH (e.g. 0.8,1.2) or one number, got {text!r}")
    return (bits[0], bits[-1])


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
    p.add_argument("--geometry", default="", metavar="GEOMETRY[,...]",
                   help="image sizes: WIDTHxHEIGHT (e.g. 160x96), 'random' (sides 48-256, 1:2..2:1) or "
                        "'random:MIN-MAX:RATIO'; several, comma-separated, write one dataset per geometry into "
                        "OUT/<geometry>/ (per-geometry test splits). Default: --size square")  # fmt: skip
    p.add_argument("--object-scale", type=_scale_range, default=(1.0, 1.0), metavar="LOW,HIGH",
                   help="each scene's object size relative to the image, drawn from this range (0.5..1.5; "
                        "default 1,1: the size words' own radii)")  # fmt: skip
    p.add_argument("--render", choices=("flat", "aa"), default="flat",
                   help="flat (default: hard edges) or aa (anti-aliased at 4x4 sub-pixels; masks are the pixels an "
                        "object covers by at least one half)")  # fmt: skip
    p.add_argument("--shade-jitter", type=float, default=0.0, metavar="A",
                   help="move each object's shade up to A (0..1) of the way across its colour's region "
                        "(docs/shapesworld.md; default 0: canonical colours)")  # fmt: skip
    p.add_argument("--backgrounds", choices=("classic", "more"), default="classic",
                   help="classic (default) or more: radial and cloudy kinds too, tones 50-200, some beige or cool")


def run(args: argparse.Namespace) -> int:
    from ..data.shapesworld import DEFAULT_HOLDOUT, DEFAULT_SIZE, GenerateConfig, generate_split

    from ..data.shapesworld.canvas import Geometry

    cite = tuple(t.strip() for t in args.cite_referents.split(",") if t.strip())
    ground = tuple(t.strip() for t in args.ground_questions.split(",") if t.strip())
    geometries = [g.strip() for g in args.geometry.split(",") if g.strip()]
    if geometries and args.size:
        raise ValueError(f"give --size or --geometry, not both (got --size {args.size}, --geometry {args.geometry})")
    names = [str(Geometry.parse(g)) for g in geometries]  # bad values fail here, before anything is written
    if len(set(names)) < len(names):
        raise ValueError(f"--geometry lists a geometry twice: {args.geometry}")
    for geometry in geometries or [""]:
        cfg = GenerateConfig(
            split=args.split, n=args.n, seed=args.seed,
            tasks=tuple(t.strip() for t in args.tasks.split(",") if t.strip()),
            size=args.size or DEFAULT_SIZE, holdout=DEFAULT_HOLDOUT if args.holdout is None else args.holdout,
            max_objects=args.max_objects, cite_referents=cite, relation_rate=args.relation_rate,
            ground_questions=ground, question_grounding=args.question_grounding,
            question_kinds=args.question_kinds, geometry=geometry, object_scale=args.object_scale,
            render=args.render, shade_jitter=args.shade_jitter, backgrounds=args.backgrounds,
        )  # fmt: skip
        out = Path(args.out) / str(Geometry.parse(geometry)) if len(geometries) > 1 else Path(args.out)
        t0 = time.perf_counter()
        info = generate_split(out, cfg)
        dt = time.perf_counter() - t0
        tasks = ", ".join(f"{k} {v}" for k, v in info["tasks"][cfg.split].items())
        print(f"wrote {info['splits'][cfg.split]} {cfg.split} records to {out} in {dt:.1f} s ({tasks})")
    return 0

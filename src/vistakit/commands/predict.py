"""``vistakit predict``: ask a model about one to several images; print its answer and the typed results in
pixels of the original images, and optionally draw them.

    vistakit predict --checkpoint runs/tiny --image a.png --prompt "Where is the red circle?" --task rec --out o.png
    vistakit predict --image a.png --image b.png --prompt "Which image has a star?" --json
    vistakit predict --image a.png --prompt "Describe the object at <region>." --region 10,12,30,40

A prompt without ``<image>`` placeholders gets one per image in front (``Image k:`` labels when several). Without
``--task`` every location in the answer is read (boxes, points, masks, keypoints); with it, the task's parser.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _region(text: str) -> dict:
    """'x,y' → a point; 'x1,y1,x2,y2' → a box; an optional 'K:' prefix names the image (0-based)."""
    image, _, coords = text.rpartition(":")
    try:
        vals = [float(v) for v in coords.split(",")]
        k = int(image) if image else 0
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--region {text!r}: expected x,y or x1,y1,x2,y2 (optionally K: first)"
        ) from None
    if len(vals) == 2:
        return {"type": "point", "image": k, "point": vals}
    if len(vals) == 4:
        return {"type": "box", "image": k, "box": vals}
    raise argparse.ArgumentTypeError(f"--region {text!r}: expected 2 (point) or 4 (box) numbers, got {len(vals)}")


def configure(p: argparse.ArgumentParser) -> None:
    from ._model_args import add_model_args

    p.add_argument("--image", action="append", required=True, help="an image file; repeat for several images")
    p.add_argument(
        "--prompt", required=True, help="the question or instruction (<image> / <region> placeholders optional)"
    )
    p.add_argument("--max-image-pixels", type=int, default=None,
                   help="refuse an image of more pixels (width x height), read from its header before decoding "
                        "(default: $VISTAKIT_MAX_IMAGE_PIXELS, else 4096*4096 = 16777216, as the server)")  # fmt: skip
    p.add_argument("--task", default=None, help="parse the answer as this task (e.g. rec, res, detection, which_image)")
    p.add_argument("--region", action="append", type=_region, default=[],
                   help="a visual prompt for a <region> in the prompt: x,y or x1,y1,x2,y2 in original pixels, "
                        "optionally K: for image K; repeat in <region> order")  # fmt: skip
    add_model_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument("--out", default=None, help="PNG to draw the images with the results on")


def run(args: argparse.Namespace) -> int:
    from ..api import full_prompt, with_regions
    from ..data.record import VisualPrompt
    from ..evaluation.present import describe_prediction, draw_prediction, parse_any, prediction_json
    from ..model.engine import attach_scores
    from ..data.images import to_rgb_array
    from ..tasks import get_task
    from ..data.domain import read_domain
    from ._model_args import checkpoint_path, generation_kwargs, load_engine

    if args.task is not None:
        get_task(args.task)  # unknown task: KeyError listing the known ones, before loading the model
    gen = generation_kwargs(args)
    arrays = [to_rgb_array(path, f"--image {path}", args.max_image_pixels) for path in args.image]
    sizes = [(a.shape[1], a.shape[0]) for a in arrays]
    prompt = with_regions(full_prompt(args.prompt, len(arrays)), len(args.region))
    regions = [VisualPrompt.from_json(r, f"--region {i + 1}", sizes) for i, r in enumerate(args.region)]
    engine = load_engine(args)
    readout = engine.mask_readout(gen.pop("masks", None))
    result = engine.generate([arrays], [prompt], [regions], **gen)[0]
    painted = None
    if readout == "decoder":  # the super-link decoder paints the answer's masks (and boxes)
        batch = engine.batch_of([result])  # the generated batch, whose features and hidden states decoding kept
        if batch is None:
            batch = engine.processor([arrays], [prompt], visual_prompts=[regions], padding_side="left")
        painted = engine.paint_masks(batch, [result])[0]
    if args.task is not None:
        pred = engine.processor.postprocess(result.text, args.task, sizes, painted=painted)
    else:
        pred = parse_any(result.text, sizes, engine.processor.grammar, painted=painted)
    attach_scores(pred, result)
    domain = read_domain(checkpoint_path(args.checkpoint))  # None: the checkpoint records no training domain
    warnings = domain.warnings(args.task, arrays) if domain is not None else []
    if args.out:
        img = draw_prediction(arrays, sizes, prompt, result.text, pred, args.task or "predict", regions)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        img.save(args.out)
    if args.json:
        out = {"answer": result.text, "task": args.task, "image_sizes": [list(s) for s in sizes],
               **prediction_json(pred), "loc_scores": [round(s, 6) for s in result.loc_scores],
               "warnings": warnings}  # fmt: skip
        if args.out:
            out["overlay"] = args.out
        print(json.dumps(out))
        return 0
    print(result.text)
    for warning in warnings:
        print(f"warning: {warning}")
    lines = describe_prediction(pred)
    if lines:
        print("results in original pixels:")
        for line in lines:
            print(line)
    if args.out:
        print(f"drew the results on the image(s) to {args.out}")
    return 0

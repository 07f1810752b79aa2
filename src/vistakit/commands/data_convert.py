"""``vistakit data convert``: a real data set in its public format → a vistakit dataset folder.

``--from`` picks the converter (see :mod:`vistakit.data.convert`); every converter reads ``--annotations`` and
may use ``--images``, ``--split`` and its own options (listed in ``--help`` under each format's group).
"""

from __future__ import annotations

import argparse
import json
import sys

# Converter names, kept here (not imported) so ``vistakit --help`` stays fast; a test checks they match.
FORMATS = (
    "coco-attcoseg", "coco-captions", "coco-coseg", "coco-instances", "coco-keypoints", "grefcoco", "llava",
    "localized-narratives", "nlvr2", "refcoco", "video-localized-narratives", "visual-genome",
)  # fmt: skip


def configure(p: argparse.ArgumentParser) -> None:
    from ..data.convert import CONVERTERS, _load_all

    p.add_argument("--from", dest="source_format", required=True, choices=FORMATS, help="source format")
    p.add_argument("--out", required=True, help="output dataset folder (written: <split>.jsonl, images/, dataset.json)")
    p.add_argument("--annotations", required=True, help="the source annotation file (json, jsonl, pickle or zip)")
    p.add_argument("--images", help="folder of the source images (for sizes not in the annotations, and to link/copy)")
    p.add_argument("--split", help="output split name (default: from the source, e.g. train2017, testB, or train)")
    p.add_argument("--image-mode", choices=("symlink", "copy", "none"), default="symlink",
                   help="how images reach DIR/images (default symlink)")  # fmt: skip
    p.add_argument("--limit", type=int, help="convert only the first N source items (images, expressions, ...)")
    p.add_argument("--seed", type=int, default=0, help="seed of the prompt-template choice (default 0)")
    p.add_argument("--json", action="store_true", help="print dataset.json as JSON on stdout (the summary goes to stderr)")
    _load_all()
    for name in CONVERTERS:
        conv = CONVERTERS.get(name)
        if conv.add_arguments is not None:
            conv.add_arguments(p.add_argument_group(f"{name} options"))


def run(args: argparse.Namespace) -> int:
    from ..data.convert import get_converter, write_dataset

    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be a positive integer, got {args.limit}")
    conv = get_converter(args.source_format).from_args(args)
    info = write_dataset(conv, args.out, args.image_mode)
    out = sys.stderr if args.json else sys.stdout  # --json: stdout holds the JSON alone, for pipes
    print(f"{conv.source} → {args.out}", file=out)
    for split, n in info["splits"].items():
        print(f"  {split}: {n} records", file=out)
    print(f"  tasks: {', '.join(f'{k} {v}' for k, v in sorted(info['tasks'].items()))}", file=out)
    print(f"  read: {', '.join(f'{k} {v}' for k, v in info['source_counts'].items())}", file=out)
    for reason, n in sorted(info["skipped"].items()):
        print(f"  skipped {n}: {reason}", file=out)
    if info["images_missing"]:
        print(f"  images not found (records written, files absent): {info['images_missing']} of {info['images']}",
              file=out)  # fmt: skip
    if args.json:
        print(json.dumps(info))
    return 0

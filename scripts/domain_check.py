"""How the shipped model's training-domain check (vistakit.data.domain) splits real photos from ShapesWorld scenes:
the share of ../shared/data/coco_tiny photos warned (as they are, and shrunk to 64 px on the longer side), of fresh
ShapesWorld test scenes warned, and the photos' colour statistics. Seconds on one core.

    .venv/bin/python scripts/domain_check.py [--scenes 200]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from vistakit.data.domain import image_features, read_domain
from vistakit.data.shapesworld.generate import GenerateConfig, generate_split
from vistakit.paths import REFERENCE_CHECKPOINT

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", default=str(ROOT.parent / "shared" / "data" / "coco_tiny" / "train2017"))
    ap.add_argument("--scenes", type=int, default=200, help="fresh ShapesWorld test records to draw scenes from")
    args = ap.parse_args()
    domain = read_domain(REFERENCE_CHECKPOINT)
    photos = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(Path(args.photos).glob("*.jpg"))]
    small = []
    for a in photos:
        im = Image.fromarray(a)
        im.thumbnail((64, 64))
        small.append(np.asarray(im))
    with tempfile.TemporaryDirectory() as tmp:
        generate_split(tmp, GenerateConfig(split="test", n=args.scenes, seed=4242))
        scenes = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(Path(tmp, "images", "test").glob("*.png"))]

    def warned(images: list[np.ndarray]) -> str:
        return f"{sum(bool(domain.warnings(None, [a])) for a in images)} / {len(images)}"

    colours = np.array([image_features(a)["colours"] for a in photos])
    top8 = np.array([image_features(a)["top8_share"] for a in photos])
    print(f"trained ranges: {domain.features}")
    print(f"photos warned: {warned(photos)}; shrunk to 64 px: {warned(small)}; ShapesWorld scenes warned: {warned(scenes)}")
    print(f"photos' colours: min {colours.min():.0f}, median {np.median(colours):.0f}, max {colours.max():.0f}; "
          f"top8_share: min {top8.min():.2f}, median {np.median(top8):.2f}, max {top8.max():.2f}")


if __name__ == "__main__":
    main()

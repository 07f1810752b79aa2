"""Small hand-made records, one per task, with targets in original pixels."""

from __future__ import annotations

import numpy as np
import pytest

from vistakit.data import Record, Targets, VisualPrompt
from vistakit.geometry import Mask

W, H = 320, 240


def rect_rle(x0: int, y0: int, x1: int, y1: int, w: int = W, h: int = H) -> dict:
    a = np.zeros((h, w), bool)
    a[y0:y1, x0:x1] = True
    return Mask(a).to_rle()


def disk_rle(cx: int, cy: int, r: int, w: int = W, h: int = H) -> dict:
    yy, xx = np.mgrid[:h, :w]
    return Mask((xx - cx) ** 2 + (yy - cy) ** 2 <= r * r).to_rle()


def make(task: str, targets: Targets, n_images: int = 1, prompt: str | None = None, **kw) -> Record:
    images = [f"images/{k}.png" for k in range(n_images)]
    prompt = prompt if prompt is not None else "".join("<image>\n" for _ in images) + "question"
    return Record(id=f"{task}-1", task=task, images=images, image_sizes=[(W, H)] * n_images, prompt=prompt,
                  targets=targets, **kw).validate()  # fmt: skip


@pytest.fixture
def records() -> dict[str, Record]:
    caption = "A red circle left of a blue square."
    return {
        "caption": make("caption", Targets(answers=[caption, "a circle and a square"])),
        "reg": make("reg", Targets(answers=["the red circle"]), prompt="<image>\nDescribe <region>.",
                    visual_prompts=[VisualPrompt("box", 0, box=[40.0, 30.0, 200.0, 180.0])]),  # fmt: skip
        "vqa": make("vqa", Targets(answers=["red"])),
        "vqa_grounded": make("vqa", Targets(answers=["yes"], boxes=[[40.0, 30.0, 200.0, 180.0], [10, 10, 60, 50],
                                                                  [250, 150, 300, 230]],
                                            labels=["red circle", "square", "square"])),  # fmt: skip
        "rec": make("rec", Targets(boxes=[[40.0, 30.0, 200.0, 180.0]], labels=["red circle"])),
        "res": make("res", Targets(masks=[disk_rle(120, 110, 60)], labels=["red circle"])),
        "grec": make("grec", Targets(boxes=[[10, 10, 130, 120], [150, 60, 300, 230]], labels=["shapes", "shapes"])),
        "grec_none": make("grec", Targets(boxes=[], labels=[])),
        "gres": make("gres", Targets(masks=[rect_rle(10, 10, 130, 120), disk_rle(230, 150, 50)])),
        "gres_none": make("gres", Targets()),
        "grounded_caption": make("grounded_caption", Targets(answers=[caption], words=[
            {"text": "circle", "start": 6, "end": 12, "point": [100.0, 90.0]},
            {"text": "square", "start": 28, "end": 34, "point": [250.0, 160.0]}])),  # fmt: skip
        "detection": make("detection", Targets(boxes=[[10, 10, 130, 120], [150, 60, 300, 230]],
                                               labels=["circle", "square"])),  # fmt: skip
        "pose": make("pose", Targets(keypoints=[{"names": ["head", "hip", "foot"],
                                                 "xy": [[100.0, 40.0], [110.0, 120.0], [0.0, 0.0]],
                                                 "visibility": [2, 1, 0]}])),  # fmt: skip
        "attcoseg": make("attcoseg", Targets(image_ids=[0, 2], masks=[disk_rle(100, 100, 50), rect_rle(50, 40, 220, 200)]),
                         n_images=3),  # fmt: skip
        "coseg": make("coseg", Targets(image_ids=[0, 1], masks=[disk_rle(100, 100, 50), disk_rle(200, 120, 70)],
                                       labels=["circle", "circle"]), n_images=2),  # fmt: skip
        "nlvr": make("nlvr", Targets(answers=["true"]), n_images=2),
        "nlvr_cited": make("nlvr", Targets(answers=["false"], boxes=[[10, 10, 60, 50], [250, 150, 300, 230]],
                                           labels=["square", "square"], image_ids=[1, 1]), n_images=3),  # fmt: skip
        "which_image": make("which_image", Targets(image_ids=[2]), n_images=3),
        "generate": Record(id="g", task="generate", images=[], image_sizes=[], prompt="Draw a red circle.",
                           meta={"scene": {"shapes": []}}),  # fmt: skip
        "edit": make("edit", Targets(), meta={"scene": {}}),
    }

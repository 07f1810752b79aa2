"""``attcoseg`` (attribute-guided co-segmentation, VistaLLM): among several images, find the two that share an
object with the asked attributes and segment it in each.

Answer: ``<img_i><mask>…</mask><img_j><mask>…</mask>`` (0-based image indices, i < j). Targets: ``image_ids``
[i, j] and the two parallel ``masks`` (COCO RLE of images i and j). Scored by ``pair_acc`` (the predicted set
of images equals the gold pair), ``jaccard`` (VistaLLM's J: mean per-image IoU over the gold images' masks, a
missing mask counting as empty) and ``ciou`` / ``giou`` over the same masks.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..data.record import Record, Targets
from ..geometry import SequenceGrammar
from ..geometry.sequence import ParseResult
from .base import Prediction, Task, register_task
from .common import Size, encode_rle, gold_masks, image_tag, per_image_masks, spans_to_prediction


@register_task
class AttCoSeg(Task):
    name = "attcoseg"
    grounds = True
    metric_names = ("pair_acc", "jaccard", "ciou", "giou")
    num_images = None
    prompt_templates = (
        "Which two images share {phrase}? Segment it in both.",
        "Find the two images that both contain {phrase} and give its mask in each.",
        "Two of these images show {phrase}. Name them and segment it.",
    )

    def build_answer(self, targets: Targets, image_sizes: Sequence[Size], grammar: SequenceGrammar) -> str:
        ids, masks = targets.image_ids or [], targets.masks or []
        if len(ids) != 2 or len(masks) != 2:
            raise ValueError(f"task 'attcoseg' needs two image_ids and two masks, got {len(ids)} and {len(masks)}")
        pairs = sorted(zip(ids, masks), key=lambda t: t[0])
        return "".join(image_tag(k) + encode_rle(m, image_sizes[k], grammar) for k, m in pairs)

    def read(self, res: ParseResult, image_sizes: Sequence[Size]) -> Prediction:
        pred = spans_to_prediction(res, image_sizes, ("mask",))
        named = [k for k in res.images if k < len(image_sizes)]
        for k in named:  # an image named without a mask still counts as picked (its mask is empty)
            if k not in pred.image_ids:
                pred.image_ids.append(k)
                w, h = image_sizes[k]
                pred.masks.append(np.zeros((h, w), bool))
                pred.labels.append("")
        return pred

    def score(self, golds: list[Record], preds: list[Prediction]) -> dict[str, float]:
        from ..metrics.segmentation import jaccard, res_metrics
        from ..metrics.selection import pair_accuracy

        self.check_aligned(golds, preds)
        pair = pair_accuracy([sorted(set(p.image_ids)) for p in preds], [g.targets.image_ids or [] for g in golds])
        pm, gm = [], []
        for g, p in zip(golds, preds):
            got = per_image_masks(p.image_ids, p.mask_arrays(), g.image_sizes)
            for k, m in zip(g.targets.image_ids or [], gold_masks(g)):
                pm.append(got[k])
                gm.append(m)
        out = {"pair_acc": pair, "jaccard": jaccard(pm, gm)}
        out.update(res_metrics(pm, gm))
        return out

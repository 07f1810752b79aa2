"""``coseg`` (co-segmentation): name the object class common to all images and segment it in each.

Answer: ``<p>class</p>`` then ``<img_k><mask>…</mask>`` for each image k that shows it. Targets: ``labels``
(the class, repeated per instance), ``image_ids`` and parallel ``masks`` (COCO RLE of image k). Scored by
``jaccard`` (mean per-image IoU over the gold images; missing masks are empty) and ``accuracy`` (class named
right).
"""

from __future__ import annotations

from typing import Sequence

from ..data.record import Record, Targets
from ..geometry import SequenceGrammar
from ..geometry.sequence import ParseResult
from .base import Prediction, Task, register_task
from .common import Size, encode_rle, gold_masks, image_tag, norm_text, per_image_masks, phrase, spans_to_prediction


@register_task
class CoSeg(Task):
    name = "coseg"
    metric_names = ("jaccard", "accuracy")
    num_images = None
    prompt_templates = (
        "What object appears in all of these images? Segment it in each.",
        "Find the common object across the images and give its mask in every image.",
        "Co-segment the images: name the shared object and outline it in each.",
    )

    def build_answer(self, targets: Targets, image_sizes: Sequence[Size], grammar: SequenceGrammar) -> str:
        ids, masks, labels = targets.image_ids or [], targets.masks or [], targets.labels or []
        if not masks or len(ids) != len(masks) or not labels:
            raise ValueError(
                f"task 'coseg' needs labels and one image_id per mask, got {len(labels)} labels, "
                f"{len(ids)} image_ids, {len(masks)} masks"
            )
        pairs = sorted(zip(ids, masks), key=lambda t: t[0])
        return phrase(labels[0]) + "".join(image_tag(k) + encode_rle(m, image_sizes[k], grammar) for k, m in pairs)

    def read(self, res: ParseResult, image_sizes: Sequence[Size]) -> Prediction:
        pred = spans_to_prediction(res, image_sizes, ("mask",))
        if not pred.labels:  # a class named without masks
            words = [s.phrase for s in res.spans if s.phrase]
            pred.text = words[0] if words else res.text
        return pred

    def score(self, golds: list[Record], preds: list[Prediction]) -> dict[str, float]:
        from ..metrics.segmentation import jaccard

        self.check_aligned(golds, preds)
        pm, gm, named = [], [], []
        for g, p in zip(golds, preds):
            got = per_image_masks(p.image_ids, p.mask_arrays(), g.image_sizes)
            for k, m in zip(g.targets.image_ids or [], gold_masks(g)):
                pm.append(got[k])
                gm.append(m)
            label = next((lab for lab in p.labels if lab), p.text)
            named.append(float(norm_text(label) == norm_text((g.targets.labels or [""])[0])))
        return {"jaccard": jaccard(pm, gm), "accuracy": sum(named) / len(named) if named else float("nan")}

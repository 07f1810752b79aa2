"""Evaluation metrics: pure functions on typed / array inputs, with no knowledge of tasks or the grammar.

Every input is in pixels of the ORIGINAL image: boxes N×4 xyxy (numpy or :class:`~vistakit.geometry.Boxes`),
masks H×W bool (numpy, :class:`~vistakit.geometry.Mask` or COCO RLE dicts), points N×2 (x, y). Predictions and
gold values are parallel lists (one entry per sample); a missing prediction is ``None``. Results are fractions,
not percentages; a metric whose denominator is empty (no samples, no no-target samples, ...) is NaN.

Stable API (the tasks call these; names do not change) and the ``vistakit score`` names they fill:

================  =================================================  ===========================================
metric name       function                                           family (file)
================  =================================================  ===========================================
acc50, acc75,     ``rec_accuracy(preds, golds)``                     REC: IoU >= .5 / .75, box centre in gold box
center_acc                                                           (grounding.py)
n_acc, t_acc      ``grec_metrics(preds, golds)`` (+ ``f1_acc50``)    GREC, gRefCOCO definitions (grounding.py)
                  ``gres_metrics(preds, golds)`` (+ ciou, giou)      GRES (segmentation.py)
ciou, giou        ``res_metrics(preds, golds)``                      RES cumulative / mean IoU (segmentation.py)
jaccard           ``jaccard(preds, golds)``                          co-segmentation, per image (segmentation.py)
bleu4, meteor,    ``caption_scores(hyps, refs)``                     pycocoevalcap, needs Java (captioning.py)
rouge_l, cider
accuracy          ``vqa_accuracy(preds, refs)``                      VQA v2 accuracy + normalisation (vqa.py)
accuracy          ``accuracy(preds, golds)``                         exact match: NLVR true/false (selection.py)
accuracy          ``image_selection_accuracy(preds, golds)``         which-image, 0-based index (selection.py)
pair_acc          ``pair_accuracy(preds, golds)``                    AttCoSeg image pair, unordered (selection.py)
ap, ap50          ``box_ap`` / ``mask_ap`` / ``keypoint_ap``         COCOeval on :class:`Instances` per image
                  ``(golds, preds, image_sizes)`` (+ ``ap75``)       (detection.py)
point_acc         ``point_accuracy(preds, gold_masks)``              point on a gold mask pixel (pointing.py)
trace_l1          ``trace_l1(preds, golds, image_sizes)``            resampled traces, normalised L1 (pointing.py)
================  =================================================  ===========================================

Per-sample helpers: ``box_iou``, ``center_inside``, ``grec_f1``, ``intersection_union``, ``vqa_accuracy_one``,
``normalize_answer``, ``point_in_mask``, ``trace_l1_one``.
"""

from .captioning import CAPTION_METRICS, caption_scores, require_java
from .detection import Instances, box_ap, detection_ap, keypoint_ap, mask_ap
from .grounding import box_iou, center_inside, grec_f1, grec_metrics, rec_accuracy
from .pointing import point_accuracy, point_in_mask, trace_l1, trace_l1_one
from .segmentation import gres_metrics, intersection_union, jaccard, res_metrics
from .selection import accuracy, image_selection_accuracy, pair_accuracy
from .vqa import normalize_answer, vqa_accuracy, vqa_accuracy_one

__all__ = [
    "CAPTION_METRICS", "caption_scores", "require_java", "Instances", "box_ap", "detection_ap", "keypoint_ap",
    "mask_ap", "box_iou", "center_inside", "grec_f1", "grec_metrics", "rec_accuracy", "point_accuracy",
    "point_in_mask", "trace_l1", "trace_l1_one", "gres_metrics", "intersection_union", "jaccard", "res_metrics",
    "accuracy", "image_selection_accuracy", "pair_accuracy", "normalize_answer", "vqa_accuracy", "vqa_accuracy_one",
]  # fmt: skip

"""VQA accuracy with the answer normalisation of the official VQA v2 evaluation (Antol et al. / Goyal et al.).

Normalisation (:func:`normalize_answer`), applied to the prediction AND every reference, in this order:

1. newlines / tabs → spaces, strip;
2. punctuation ``; / [ ] " { } ( ) = + \\ _ - > < @ ` , ? !``: removed when the text has a punctuation mark
   next to a space or a digit-comma-digit group ("1,000"), otherwise replaced by a space (as the official
   ``processPunctuation``); then a period not followed by a digit is removed (so "2.5" keeps its point);
3. lower-case, split on whitespace, number words zero…ten (and "none") → digits, articles a/an/the dropped;
4. contractions written without an apostrophe get it back ("dont" → "don't", "youre" → "you're");
   ambiguous words that are also English words ("its", "were", "well", "ill", "shed", "hell") are left alone.

Accuracy of one question (:func:`vqa_accuracy_one`):

* **10 or more references** (the VQA v2 protocol, 10 human answers): for each reference, leave it out and score
  ``min(#other references equal to the prediction / 3, 1)``; the accuracy is the mean over the leave-one-out
  subsets (the official "average over the 10 choose 9 subsets").
* **Fewer than 10 references** (e.g. GQA-style or ShapesWorld single answers): plain exact match after
  normalisation against any reference (1 or 0), since the 3-of-10 consensus rule is meaningless there.

Results are fractions in [0, 1] (the official script prints percentages).
"""

from __future__ import annotations

import itertools
import re
from typing import Sequence

from ._inputs import check_pairs, mean_or_nan

CONSENSUS_MIN_REFS = 10  # the VQA v2 protocol collects 10 answers per question
CONSENSUS_HUMANS = 3  # an answer given by 3 humans is fully correct

_PUNCT = ";/[]\"{}()=+\\_-><@`,?!"
_NUMBERS = {"none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
            "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}  # fmt: skip
_ARTICLES = frozenset({"a", "an", "the"})
_DIGIT_COMMA_DIGIT = re.compile(r"\d,\d")
_PERIOD_NOT_BEFORE_DIGIT = re.compile(r"\.(?!\d)")

# Contracted forms; the lookup table maps each form written without apostrophes back to it.
_CONTRACTED = """
ain't aren't can't could've couldn't couldn't've didn't doesn't don't hadn't hadn't've hasn't haven't he'd've
he's how'd how'll how's i'd've i'm i've isn't it'd it'd've it'll let's ma'am mightn't mightn't've might've
mustn't must've needn't not've o'clock oughtn't shan't she'd've she's should've shouldn't shouldn't've
somebody'd somebody'd've somebody'll somebody's someone'd someone'd've someone'll someone's something'd
something'd've something'll that's there'd there'd've there're there's they'd they'd've they'll they're
they've 'twas wasn't we'd've we've weren't what'll what're what's what've when's where'd where's where've
who'd who'd've who'll who's who've why'll why're why's won't would've wouldn't wouldn't've y'all y'all'll
y'all'd've you'd you'd've you'll you're you've
""".split()
# Bare forms that are also ordinary words stay as they are ("its", "were", "well", "ill", "shed" are not listed).
_AMBIGUOUS = frozenset({"lets"})


def _contraction_table() -> dict[str, str]:
    """Each contracted form written with any subset of its apostrophes missing → the full form."""
    table: dict[str, str] = {}
    for form in _CONTRACTED:
        parts = form.split("'")
        for keep in itertools.product(("", "'"), repeat=len(parts) - 1):
            variant = parts[0] + "".join(k + part for k, part in zip(keep, parts[1:]))
            if variant != form and variant not in _AMBIGUOUS:
                table[variant] = form
    return table


CONTRACTIONS = _contraction_table()


def _strip_punctuation(text: str) -> str:
    drop = _DIGIT_COMMA_DIGIT.search(text) is not None
    out = text
    for p in _PUNCT:
        glue = "" if drop or (p + " " in text) or (" " + p in text) else " "
        out = out.replace(p, glue)
    return _PERIOD_NOT_BEFORE_DIGIT.sub("", out)


def normalize_answer(text: str) -> str:
    """The official VQA v2 normalisation of an answer (see the module docstring). Never raises on a string."""
    if not isinstance(text, str):
        raise TypeError(f"a VQA answer must be a string, got {type(text).__name__}")
    text = _strip_punctuation(text.replace("\n", " ").replace("\t", " ").strip())
    words = [_NUMBERS.get(w, w) for w in text.lower().split()]
    words = [CONTRACTIONS.get(w, w) for w in words if w not in _ARTICLES]
    return " ".join(words)


def vqa_accuracy_one(pred: str | None, refs: Sequence[str]) -> float:
    """Accuracy of one predicted answer (None = no answer → 0) against its reference answers (module docstring)."""
    if isinstance(refs, str) or not refs:
        raise ValueError(f"VQA references must be a non-empty list of strings, got {refs!r:.80}")
    if pred is None:
        return 0.0
    p = normalize_answer(pred)
    gold = [normalize_answer(r) for r in refs]
    if len(gold) < CONSENSUS_MIN_REFS:
        return float(p in gold)
    hits = [g == p for g in gold]
    total = sum(hits)
    return sum(min((total - h) / CONSENSUS_HUMANS, 1.0) for h in hits) / len(hits)


def vqa_accuracy(preds: Sequence[str | None], refs: Sequence[Sequence[str]]) -> float:
    """Mean VQA accuracy over questions; ``refs[i]`` are question i's reference answers. NaN when no questions."""
    n = check_pairs(preds, refs, "vqa_accuracy")
    return mean_or_nan([vqa_accuracy_one(preds[i], refs[i]) for i in range(n)])

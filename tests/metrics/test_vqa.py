"""VQA v2 normalisation and accuracy by hand; the normaliser never crashes on text."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vistakit.metrics.vqa import normalize_answer, vqa_accuracy, vqa_accuracy_one


@pytest.mark.parametrize(
    "raw, norm",
    [
        ("Two", "2"),
        ("the dog.", "dog"),
        ("  A red\tball\n", "red ball"),
        ("dont know", "don't know"),
        ("youre", "you're"),
        ("1,000", "1000"),  # digit-comma-digit: punctuation removed, not spaced
        ("yes, it is", "yes it is"),  # ", " → removed
        ("red/blue", "red blue"),  # no space next to it → replaced by a space
        ("2.5", "2.5"),  # a period before a digit stays
        ("none", "0"),
        ("its", "its"),  # ambiguous: left alone
        ("Left!", "left"),
    ],
)
def test_normalisation(raw, norm):
    assert normalize_answer(raw) == norm


def test_ten_answer_consensus_by_hand():
    refs = ["2"] * 2 + ["3"] * 8
    # leaving out one of the two "2": 1 match → 1/3 (twice); leaving out a "3": 2 matches → 2/3 (eight times)
    assert vqa_accuracy_one("two", refs) == pytest.approx((2 * (1 / 3) + 8 * (2 / 3)) / 10)
    assert vqa_accuracy_one("3", refs) == pytest.approx(1.0)  # 7 or 8 others agree → capped at 1
    refs3 = ["yes"] * 3 + ["no"] * 7
    assert vqa_accuracy_one("Yes.", refs3) == pytest.approx((3 * (2 / 3) + 7 * 1) / 10)
    assert vqa_accuracy_one("maybe", refs3) == 0.0


def test_few_references_use_exact_match():
    assert vqa_accuracy_one("The Cat", ["cat"]) == 1.0
    assert vqa_accuracy_one("cats", ["cat", "kitten"]) == 0.0
    assert vqa_accuracy(["a cat", "dog", None], [["cat"], ["cat"], ["cat"]]) == pytest.approx(1 / 3)
    assert math.isnan(vqa_accuracy([], []))
    with pytest.raises(ValueError, match="non-empty list"):
        vqa_accuracy_one("cat", [])
    with pytest.raises(ValueError, match="2 predictions for 1"):
        vqa_accuracy(["a", "b"], [["a"]])


@given(st.text())
def test_normaliser_never_crashes(text):
    out = normalize_answer(text)
    assert isinstance(out, str)
    assert vqa_accuracy_one(text, [text]) == 1.0

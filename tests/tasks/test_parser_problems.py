"""The pose and grounded-caption parsers report what they could not read (they used to drop it silently), and
those problems reach the API's ``Result``."""

from __future__ import annotations

import numpy as np
import pytest

from vistakit import Result
from vistakit.api import Prepared
from vistakit.geometry import SequenceGrammar
from vistakit.model import GenerationResult
from vistakit.tasks import get_task

GRAMMAR = SequenceGrammar(1000)
SIZES = [(64, 64)]
BOX = "<box><loc_1><loc_2><loc_30><loc_40></box>"
POINT = "<point><loc_100><loc_200></point>"
KPS = "<kps><kp>head<loc_1><loc_2></kp><kp>foot</kp></kps>"


@pytest.mark.parametrize("answer, words", [
    ("a small white star", ["text outside the figures ignored: 'a small white star'", "has no keypoint figure"]),
    ("<kps></kps>", ["keypoints with no readable keypoint; dropped", "has no keypoint figure"]),
    (f"<p>dog</p>{BOX}", ["1 box span(s) ignored: this task reads only keypoints", "text outside the figures "
                          "ignored: 'dog'", "has no keypoint figure"]),
    (f"{KPS}{POINT}", ["1 point span(s) ignored"]),
])  # fmt: skip
def test_pose_reports_what_it_drops(answer, words):
    problems = get_task("pose").parse(answer, SIZES, GRAMMAR).problems
    assert len(problems) == len(words) and all(w in p for w, p in zip(words, problems)), problems


def test_pose_reads_clean_figures_and_none_without_problems():
    pred = get_task("pose").parse(KPS + KPS, SIZES, GRAMMAR)
    assert len(pred.keypoints) == 2 and pred.problems == []
    assert get_task("pose").parse("<none>", SIZES, GRAMMAR).problems == []


@pytest.mark.parametrize("answer, words, labels", [
    ("A <p>dog</p> runs.", ["1 phrase(s) with no point after them: ['dog']"], []),
    (f"A {POINT} runs.", ["1 point(s) after no <p>word</p>; kept with an empty label"], [""]),
    (f"A <p>dog</p>{POINT} and <p>cat</p>{BOX}.",
     ["1 box span(s) ignored: this task reads only point", "1 phrase(s) with no point after them: ['cat']"], ["dog"]),
])  # fmt: skip
def test_grounded_caption_reports_what_it_cannot_tie(answer, words, labels):
    pred = get_task("grounded_caption").parse(answer, SIZES, GRAMMAR)
    assert pred.problems == words and pred.labels == labels


def test_grounded_caption_reads_points_on_named_images_without_problems():
    pred = get_task("grounded_caption").parse(f"A <p>dog</p><img_0>{POINT} sits.", SIZES, GRAMMAR)
    assert pred.problems == [] and pred.labels == ["dog"] and pred.text == "A dog sits."


def test_the_problems_reach_the_result():
    pred = get_task("pose").parse("a star", SIZES, GRAMMAR)
    prepared = Prepared([np.zeros((64, 64, 3), np.uint8)], SIZES, "<image>\nFind the joints.", [], "pose",
                        (8, 1, True), 5)  # fmt: skip
    result = Result.from_prediction(pred, GenerationResult("a star", [1, 2], [0.5, 0.5], []), prepared)
    assert result.problems == pred.problems and len(result.to_json()["problems"]) == 2

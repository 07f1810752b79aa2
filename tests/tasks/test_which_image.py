"""``which_image`` counts images the way its prompt does: "Image 1" is index 0 of ``image_ids``."""

import random

from vistakit.data import Targets
from vistakit.evaluation.present import describe_prediction
from vistakit.geometry import SequenceGrammar
from vistakit.tasks import get_task

SIZES = [(32, 32)] * 3
G = SequenceGrammar(bins=64)


def test_the_answer_text_names_the_image_as_the_prompt_does():
    task = get_task("which_image")
    prompt = task.make_prompt(random.Random(0), n_images=3, phrase="a red star")
    assert prompt.startswith("Image 1: <image>\nImage 2: <image>\nImage 3: <image>\n")
    answer = task.build_answer(Targets(image_ids=[2]), SIZES, G)  # the third image of the prompt
    assert answer == "<img_2>"  # the grammar (and the shipped model) counts from 0
    pred = task.parse(answer, SIZES, G)
    assert pred.image_ids == [2] and pred.text == "Image 3" and not pred.problems
    assert "  picked: Image 3" in describe_prediction(pred)


def test_an_answer_naming_no_image_says_so():
    pred = get_task("which_image").parse("a red star", SIZES, G)
    assert pred.image_ids == [] and pred.text == "a red star" and pred.problems
    pred = get_task("which_image").parse("<img_7>", SIZES, G)  # not an image of the sample
    assert pred.image_ids == [] and pred.problems

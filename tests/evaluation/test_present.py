import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from vistakit.data.overlay import PALETTE, PICKED_COLOUR
from vistakit.data.record import VisualPrompt
from vistakit.evaluation.present import (
    describe_prediction,
    READABLE_SIDE,
    draw_on_images,
    draw_prediction,
    parse_any,
    prediction_json,
    prediction_overlays,
)
from vistakit.geometry import Mask, SequenceGrammar
from vistakit.tasks import Prediction
from vistakit.tasks.common import encode_box, encode_point

G = SequenceGrammar(64, mask_points=8)
SIZES = [(40, 20), (30, 30)]


def _answer():
    mask = np.zeros((30, 30), bool)
    mask[5:20, 8:25] = True
    return (
        "<p>red box</p>" + encode_box([4, 2, 20, 12], SIZES[0], G)
        + encode_point([10, 5], SIZES[0], G)
        + "<img_1>" + G.encode_mask(Mask(mask))
    )  # fmt: skip


def test_parse_any_keeps_every_location_in_original_pixels():
    pred = parse_any(_answer(), SIZES, G)
    assert not pred.problems
    # 40 px wide image: one bin is 40/64 px, so decoded corners sit within a bin of the truth
    np.testing.assert_allclose(pred.boxes, [[4, 2, 20, 12]], atol=40 / 64)
    assert len(pred.masks) == 1 and pred.masks[0].shape == (30, 30)
    assert Mask(pred.masks[0]).iou(Mask(np.pad(np.ones((15, 17), bool), ((5, 10), (8, 5))))) > 0.6
    np.testing.assert_allclose(pred.points, [[10, 5]], atol=40 / 64)
    # one (image, label) per span, in the order boxes, masks, keypoints, points
    assert pred.image_ids == [0, 1, 0] and pred.labels == ["red box", "red box", "red box"]


def test_json_and_lines():
    pred = parse_any(_answer(), SIZES, G)
    pred.scores = np.array([0.9])
    js = prediction_json(pred)
    assert len(js["boxes"]) == 1 and js["masks"][0]["size"] == [30, 30] and isinstance(js["masks"][0]["counts"], str)
    assert js["scores"] == [0.9] and js["image_ids"] == [0, 1, 0]
    lines = describe_prediction(pred)
    assert lines[0].startswith("  box 0: Image 1, 'red box', [") and lines[0].endswith("score 0.900")
    assert lines[1].startswith("  mask 0: Image 2, ") and lines[1].endswith(" px")
    assert lines[2].startswith("  point 0: Image 1, 'red box', (10.")


def test_which_image_answer_names_the_image():
    pred = parse_any("<img_1>", SIZES, G)
    assert pred.image_ids == [1] and "  picked: Image 2" in describe_prediction(pred)


def test_draw_prediction_marks_the_box(tmp_path):
    paths = []
    for k, (w, h) in enumerate(SIZES):
        Image.new("RGB", (w, h), (0, 0, 0)).save(tmp_path / f"{k}.png")
        paths.append(tmp_path / f"{k}.png")
    pred = parse_any(_answer(), SIZES, G)
    img = draw_prediction(paths, SIZES, "<image>\n<image>\nwhere?", _answer(), pred, "rec")
    colours = {c for _, c in img.getcolors(1 << 20)}
    assert (255, 60, 60) in colours  # the box: palette colour 0
    # the mask (instance 1, on image 1): a light fill of palette colour 1 over black, outlined in that colour
    assert (18, 66, 18) in colours and (60, 220, 60) in colours

    arrays = [np.zeros((h, w, 3), np.uint8) for w, h in SIZES]  # the same images, already in memory
    same = draw_prediction(arrays, SIZES, "<image>\n<image>\nwhere?", _answer(), pred, "rec")
    np.testing.assert_array_equal(np.asarray(img), np.asarray(same))


def test_prediction_overlays_put_each_result_on_its_image():
    pred = parse_any(_answer(), SIZES, G)
    pred.scores = np.array([0.9])
    first, second = prediction_overlays(pred, SIZES, [VisualPrompt("point", 1, point=[3, 3])])
    assert [(n, caption) for n, _, caption in first.boxes] == [(0, "red box 0.90")]
    assert [n for n, _ in second.masks] == [1] and not first.masks  # a separate mask span: its own colour
    assert [n for n, _ in first.points] == [0] and not second.points
    assert not first.regions and second.regions[0].point == [3, 3] and not (first.picked or second.picked)
    # a span naming an image the request does not have is drawn on image 0 rather than lost
    stray = Prediction(text="", points=np.array([[1.0, 1.0]]), image_ids=[3])
    assert prediction_overlays(stray, SIZES)[0].points == [(0, [1.0, 1.0])]


def test_which_image_answers_frame_the_picked_image_at_full_resolution():
    arrays = [np.full((h, w, 3), 50, np.uint8) for w, h in SIZES]
    first, second = draw_on_images(arrays, parse_any("<img_1>", SIZES, G))
    assert first.size == SIZES[0] and second.size == SIZES[1]
    np.testing.assert_array_equal(np.asarray(first), arrays[0])  # not picked: the original pixels
    frame = np.asarray(second)
    assert (frame[0] == PICKED_COLOUR).all() and (frame[15, 15] == 50).all()


def test_draw_on_images_keeps_full_resolution_and_the_original_pixels():
    rng = np.random.default_rng(1)
    arrays = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for w, h in SIZES]
    pred = parse_any(_answer(), SIZES, G)
    first, second = (np.asarray(im) for im in draw_on_images(arrays, pred))
    assert first.shape == arrays[0].shape and second.shape == arrays[1].shape
    changed = (first != arrays[0]).any(-1)
    assert changed[2:13, 4:21].any() and not changed[14:, :].any()  # the box (4, 2)–(20, 12) and its caption
    assert (first == PALETTE[0]).all(-1).any()
    tinted = (second != arrays[1]).any(-1)
    assert tinted[8:17, 10:23].all() and not tinted[25:, :].any()  # the mask of image 1, inside [5:20, 8:25]


PIECES = list("<>/_ 0123456789abcdeilmnoptx") + [
    "<loc_3>",
    "<loc_70>",
    "<box>",
    "</box>",
    "<img_1>",
    "<img_5>",
    "<mask>",
    "<poly>",
    "</poly>",
    "</mask>",
    "<point>",
    "</point>",
]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=60).map("".join))
def test_parse_any_never_raises(text):
    pred = parse_any(text, SIZES, G)
    prediction_json(pred)
    describe_prediction(pred)


def test_small_images_are_enlarged_to_a_readable_size_before_drawing():
    arrays = [np.full((h, w, 3), 50, np.uint8) for w, h in SIZES]
    pred = parse_any(_answer(), SIZES, G)
    big = draw_on_images(arrays, pred, min_side=READABLE_SIDE)  # short side >= 384, whole factor, nearest
    for im, (w, h) in zip(big, SIZES):
        k = im.width // w
        assert im.size == (w * k, h * k) and min(im.size) >= 384 > min(w, h) * (k - 1)
    plain = np.asarray(big[0])
    assert (plain[-1, -1] == 50).all()  # far from the drawings the pixels are the original's, only larger

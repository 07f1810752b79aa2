"""``draw_overlay``: each kind of result lands where its original-pixel coordinates say, scaled onto the image
drawn on, in its palette colour, without touching the rest of the image."""

import numpy as np
import pytest
from PIL import Image

from vistakit.data.overlay import PALETTE, PICKED_COLOUR, REGION_COLOUR, Overlay, draw_overlay
from vistakit.data.record import VisualPrompt
from vistakit.geometry import Mask

RED, GREEN = PALETTE[0], PALETTE[1]


def black(w=100, h=50):
    return Image.new("RGB", (w, h), (0, 0, 0))


def px(img, x, y):
    return tuple(int(v) for v in np.asarray(img)[y, x])


def test_box_outline_at_full_resolution_and_scaled():
    overlay = Overlay(boxes=[(0, [10, 10, 40, 30], "")])
    img = draw_overlay(black(), overlay)
    assert img.size == (100, 50)
    assert px(img, 10, 20) == RED and px(img, 39, 20) == RED and px(img, 25, 10) == RED and px(img, 25, 29) == RED
    assert px(img, 25, 20) == (0, 0, 0) and px(img, 41, 20) == (0, 0, 0)  # inside and outside untouched
    half = draw_overlay(black(50, 25), overlay, scale=0.5)  # a thumbnail of the same image
    assert px(half, 5, 10) == RED and px(half, 19, 10) == RED and px(half, 10, 10) == (0, 0, 0)


def test_only_the_drawn_pixels_change_and_the_input_is_kept():
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (50, 100, 3), dtype=np.uint8)
    before = arr.copy()
    img = draw_overlay(arr, Overlay(points=[(2, [70, 25])]))
    np.testing.assert_array_equal(arr, before)
    changed = np.argwhere((np.asarray(img) != arr).any(-1))
    assert len(changed) and np.abs(changed - [25, 70]).max() <= 4  # the dot, radius 3 px, nothing else
    assert px(img, 70, 25) == PALETTE[2]


def test_masks_get_a_light_fill_and_an_outline_and_are_resized_to_the_drawn_image():
    m = np.zeros((50, 100), bool)
    m[10:40, 20:70] = True
    img = draw_overlay(black(), Overlay(masks=[(1, m)]))
    assert px(img, 40, 25) == (18, 66, 18) and px(img, 80, 45) == (0, 0, 0)  # 0.3 × (60, 220, 60) over black
    assert px(img, 20, 25) == GREEN and px(img, 40, 10) == GREEN and px(img, 69, 39) == GREEN  # the border
    thumb = draw_overlay(black(20, 10), Overlay(masks=[(1, m)]), scale=0.2)
    assert px(thumb, 8, 5) == (18, 66, 18) and px(thumb, 4, 5) == GREEN and px(thumb, 17, 9) == (0, 0, 0)


def test_a_filled_mask_keeps_the_objects_colour():
    yellow = np.zeros((50, 100, 3), np.uint8)
    yellow[10:40, 20:70] = (240, 220, 30)
    m = (yellow > 0).any(-1)
    r, g, b = px(draw_overlay(yellow, Overlay(masks=[(0, m)])), 45, 25)  # red overlay on a yellow triangle
    assert r > 200 and g > 150 and b < 80  # still reads yellow (half strength would give (248, 140, 45): orange)


def test_small_images_are_enlarged_whole_and_sharp():
    tiny = np.zeros((16, 32, 3), np.uint8)
    tiny[4:8, 4:8] = 255
    img = draw_overlay(tiny, Overlay(boxes=[(0, [20, 2, 30, 12], "")]), min_side=64)
    assert img.size == (128, 64)  # × 4: a whole factor
    assert px(img, 16, 16) == (255, 255, 255) and px(img, 31, 31) == (255, 255, 255) and px(img, 32, 32) == (0, 0, 0)
    assert px(img, 80, 30) == RED  # the box's left edge at x = 20 × 4
    assert draw_overlay(tiny, Overlay(), min_side=10).size == (32, 16)  # big enough already


def test_regions_keypoints_traces_and_the_picked_frame():
    overlay = Overlay(
        regions=[VisualPrompt("box", 0, box=[60, 5, 90, 20]), VisualPrompt("point", 0, point=[20, 40])],
        keypoints=[([[5, 5], [15, 5], [25, 5]], [2, 1, 0])],
        traces=[(3, [[50, 45], [90, 45]])],
        picked=True,
    )
    img = draw_overlay(black(), overlay)
    assert px(img, 60, 12) == REGION_COLOUR and px(img, 75, 12) == (0, 0, 0)  # the region box, hollow
    assert px(img, 16, 40) == REGION_COLOUR and px(img, 20, 36) == REGION_COLOUR  # the point's cross
    assert px(img, 5, 5) == (255, 255, 0) and px(img, 15, 5) == (255, 0, 0) and px(img, 25, 5) == (0, 0, 0)
    assert px(img, 70, 45) == PALETTE[3]
    assert px(img, 0, 30) == PICKED_COLOUR and px(img, 99, 30) == PICKED_COLOUR and px(img, 50, 49) == PICKED_COLOUR
    assert px(draw_overlay(black(), Overlay()), 0, 30) == (0, 0, 0)


def test_a_mask_region_is_tinted_white():
    m = np.zeros((50, 100), bool)
    m[10:20, 10:20] = True
    img = draw_overlay(black(), Overlay(regions=[VisualPrompt("mask", 0, mask=Mask(m).to_rle())]))
    assert px(img, 15, 15) == (89, 89, 89) and px(img, 30, 30) == (0, 0, 0)  # 0.35 × white


def test_lines_grow_with_the_image_so_large_photos_show_them():
    img = draw_overlay(black(1000, 500), Overlay(boxes=[(0, [100, 100, 400, 300], "")]))
    row = np.asarray(img)[200, 95:110]
    assert (row == RED).all(-1).sum() == 4  # 1000 px wide: 4 px lines (1 px on a 250 px thumbnail)


@pytest.mark.parametrize("y1, above", [(30, True), (0, False)])
def test_captions_sit_above_the_box_or_below_it_never_over_it(y1, above):
    box = [20, y1, 80, y1 + 15]
    img = np.asarray(draw_overlay(black(), Overlay(boxes=[(0, box, "cat 0.91")])))
    red_rows = np.flatnonzero((img == RED).all(-1).any(1))
    assert (red_rows.min() < y1) == above and red_rows.min() >= 0
    assert (red_rows.max() > y1 + 15) == (not above)  # at the top edge the label goes under the box
    inside = img[y1 + 1 : y1 + 14, 21:79]
    assert not inside.any()  # the object inside the box stays visible
    label = np.asarray(draw_overlay(black(), Overlay(boxes=[(0, box, "cat 0.91")]), captions=False))
    plain = np.asarray(draw_overlay(black(), Overlay(boxes=[(0, box, "")])))
    np.testing.assert_array_equal(label, plain)  # captions=False: boxes only
    assert ((img != plain).any(-1)).sum() > 20  # the caption: a filled label with dark text

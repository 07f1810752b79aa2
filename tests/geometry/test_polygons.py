import cv2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from vistakit.geometry import Frame, Mask, Polygons, Space, mask_contours, mask_to_polygons


def blobs(seed: int, size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    m = np.zeros((size, size), np.uint8)
    for _ in range(rng.integers(1, 4)):
        c = rng.integers(8, size - 8, 2)
        cv2.ellipse(m, tuple(int(v) for v in c), tuple(int(v) for v in rng.integers(2, 10, 2)), float(rng.integers(0, 180)), 0, 360, 1, -1)
    return m.astype(bool)


def fill_holes(arr: np.ndarray) -> np.ndarray:
    """Independent reference: background not reachable from the border (4-connected flood fill) is a hole."""
    pad = np.pad(arr, 1).astype(np.uint8)
    flood = pad.copy()
    cv2.floodFill(flood, None, (0, 0), 2, flags=4)
    return (flood != 2)[1:-1, 1:-1]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_dense_contours_rasterise_back_exactly(seed):
    arr = blobs(seed)
    poly = mask_to_polygons(Mask(arr), min_area=1)
    # Exact up to holes, which external contours fill by design (documented in polygons.py).
    assert np.array_equal(poly.rasterize().array, fill_holes(arr))


def test_components_largest_first_and_tiny_dropped():
    arr = np.zeros((40, 40), bool)
    arr[2:6, 2:6] = True  # 16 px
    arr[10:30, 10:30] = True  # 400 px
    arr[35, 35] = True  # 1 px speck
    rings = mask_contours(arr, min_area=4)
    assert len(rings) == 2
    assert np.ptp(rings[0][:, 0]) > np.ptp(rings[1][:, 0])


def test_holes_are_filled():
    arr = np.zeros((20, 20), bool)
    arr[2:18, 2:18] = True
    arr[8:12, 8:12] = False
    back = mask_to_polygons(Mask(arr)).rasterize().array
    assert back[8:12, 8:12].all() and back.sum() == 16 * 16


def test_empty_mask_has_no_polygons():
    assert len(mask_to_polygons(Mask(np.zeros((5, 5), bool)))) == 0


def test_polygon_needs_three_points():
    import pytest

    with pytest.raises(ValueError, match="at least 3"):
        Polygons(([[0, 0], [1, 1]],), Space(Frame.ORIGINAL, (4, 4)))

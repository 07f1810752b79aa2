import numpy as np
import pytest

from vistakit.geometry import BoxFormat, Boxes, Frame, Space, box_iou_xyxy

ORIG = Space(Frame.ORIGINAL, (200, 100))


def test_xywh_xyxy_round_trip():
    b = Boxes([[10, 20, 30, 40]], ORIG, BoxFormat.XYWH)
    assert b.xyxy().tolist() == [[10, 20, 40, 60]]
    assert b.to("xyxy").to("xywh").data.tolist() == [[10, 20, 30, 40]]


def test_normalise_round_trip():
    b = Boxes([[10, 20, 110, 60]], ORIG)
    n = b.to(normalized=True)
    assert n.space.normalized and np.allclose(n.data, [[0.05, 0.2, 0.55, 0.6]])
    assert np.allclose(n.to(normalized=False).data, b.data)


@pytest.mark.parametrize(
    "data, fmt, match",
    [
        ([[10, 20, 5, 40]], "xyxy", "x2 < x1"),
        ([[0, 0, -1, 3]], "xywh", "negative width"),
        ([[0, 0, 1]], "xyxy", "shape"),
        ([[0, np.nan, 1, 2]], "xyxy", "NaN"),
        ("abcd", "xyxy", "numeric"),
    ],
)
def test_bad_boxes_are_refused(data, fmt, match):
    with pytest.raises((ValueError, TypeError), match=match):
        Boxes(data, ORIG, fmt)


def test_normalised_out_of_range_refused():
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        Boxes([[0, 0, 1.5, 1]], Space(Frame.MODEL, None, True))


def test_absolute_needs_size():
    with pytest.raises(ValueError, match="size"):
        Space(Frame.ORIGINAL, None, normalized=False)


def test_iou_values():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10]])
    assert np.allclose(box_iou_xyxy(a, b), [[50 / 150, 0.0, 1.0]])
    assert box_iou_xyxy(np.zeros((1, 4)), np.zeros((1, 4)))[0, 0] == 0.0


def test_iou_refuses_mixed_spaces():
    with pytest.raises(ValueError, match="cannot compare"):
        Boxes([[0, 0, 1, 1]], ORIG).iou(Boxes([[0, 0, 0.1, 0.1]], ORIG.as_normalized()))


def test_clip():
    b = Boxes([[-5, 10, 250, 90]], ORIG).clip()
    assert b.data.tolist() == [[0, 10, 200, 90]]

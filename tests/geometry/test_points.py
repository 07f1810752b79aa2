import numpy as np
import pytest

from vistakit.geometry import Frame, Keypoints, Points, Space, Trace

ORIG = Space(Frame.ORIGINAL, (100, 50))


def test_points_normalise():
    p = Points([[50, 25]], ORIG)
    assert np.allclose(p.to(normalized=True).xy, [[0.5, 0.5]])


def test_keypoints_coco_round_trip():
    flat = [10, 20, 2, 0, 0, 0, 30, 40, 1]
    kp = Keypoints.from_coco(flat, ["head", "hand", "foot"], ORIG)
    assert kp.visibility.tolist() == [2, 0, 1]
    assert kp.to_coco() == [float(v) for v in flat]


@pytest.mark.parametrize(
    "xy, vis, names, match",
    [
        ([[1, 2]], [3], ["a"], "visibility"),
        ([[1, 2], [3, 4]], [2, 2], ["a", "a"], "unique"),
        ([[1, 2]], [2, 2], ["a", "b"], "as many"),
    ],
)
def test_bad_keypoints(xy, vis, names, match):
    with pytest.raises(ValueError, match=match):
        Keypoints(xy, vis, names, ORIG)


def test_trace_validation_and_slicing():
    tr = Trace([[0, 0], [1, 1], [2, 2]], [0.0, 0.5, 1.0], ORIG)
    assert len(tr.between(0.4, 1.0)) == 2
    with pytest.raises(ValueError, match="decrease"):
        Trace([[0, 0], [1, 1]], [1.0, 0.5], ORIG)
    with pytest.raises(ValueError, match="one time per point"):
        Trace([[0, 0], [1, 1]], [1.0], ORIG)

import numpy as np
import pytest

from vistakit.data.shapesworld.figures import KEYPOINT_NAMES, Pose, figure_keypoints, figure_mask
from vistakit.data.shapesworld.shapes import SHAPES, shape_mask, shape_polygon


def test_the_required_shapes_exist():
    assert {"circle", "square", "triangle", "star", "hexagon"} <= set(SHAPES)


@pytest.mark.parametrize("shape", SHAPES)
def test_mask_area_matches_polygon_area(shape):
    import cv2

    poly = shape_polygon(shape, (32.0, 32.0), 20.0, 0.3)
    m = shape_mask(shape, (32.0, 32.0), 20.0, 0.3, (64, 64))
    area = cv2.contourArea(poly.astype(np.float32))
    assert abs(m.sum() - area) / area < 0.15  # rasterisation covers touched pixels: a thin rim more
    assert m[32, 32]  # the centre is inside every shape


def test_shapes_differ_from_each_other():
    masks = [shape_mask(s, (32.0, 32.0), 20.0, 0.0, (64, 64)) for s in SHAPES]
    for i in range(len(masks)):
        for j in range(i + 1, len(masks)):
            assert (masks[i] != masks[j]).sum() > 20


def test_bad_radius_and_unknown_shape_are_refused():
    with pytest.raises(ValueError, match="radius"):
        shape_polygon("circle", (0, 0), 0.0)
    with pytest.raises(KeyError, match="known: circle"):
        shape_polygon("blob", (0, 0), 1.0)


def test_figure_keypoints_lie_on_the_figure_mask():
    rng = np.random.default_rng(0)
    for _ in range(20):
        kp = figure_keypoints((48.0, 48.0), 60.0, Pose.sample(rng))
        m = figure_mask(kp, 60.0, (96, 96))
        assert kp.shape == (len(KEYPOINT_NAMES), 2)
        cols, rows = np.floor(kp).astype(int).T
        assert m[rows, cols].all()


def test_pose_json_round_trip_and_errors():
    pose = Pose.sample(np.random.default_rng(1))
    again = Pose.from_json(pose.to_json())
    assert np.allclose(again.arms, pose.arms, atol=1e-6)
    with pytest.raises(ValueError, match="arms"):
        Pose.from_json({"arms": [0.1]})

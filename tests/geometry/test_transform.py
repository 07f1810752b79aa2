import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from vistakit.geometry import Boxes, Frame, ImageTransform, Mask, Points, Space


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 2000), st.integers(1, 2000), st.integers(16, 1024), st.booleans(),
    st.floats(0, 1), st.floats(0, 1),
)  # fmt: skip
def test_points_round_trip(w, h, canvas, center, fx, fy):
    t = ImageTransform.fit((w, h), canvas, center=center)
    p = Points([[fx * w, fy * h]], Space(Frame.ORIGINAL, (w, h)))
    m = t.to_model(p)
    assert m.space.frame is Frame.MODEL and m.space.normalized
    back = t.to_original(m)
    assert np.allclose(back.xy, p.xy, atol=1e-6 * max(w, h))


def test_box_to_model_normalised_is_pixels_over_long_side():
    t = ImageTransform.fit((400, 200), 224)
    b = Boxes([[40, 20, 400, 200]], t.original_space)
    assert np.allclose(t.to_model(b).data, [[0.1, 0.05, 1.0, 0.5]])


def test_parser_output_without_size_maps_back():
    t = ImageTransform.fit((400, 200), 224)
    b = Boxes([[0.1, 0.05, 1.0, 0.5]], Space(Frame.MODEL, None, True))
    assert np.allclose(t.to_original(b).data, [[40, 20, 400, 200]])


def test_predictions_in_padding_are_clipped():
    t = ImageTransform.fit((400, 200), 224)
    p = Points([[0.5, 0.9]], Space(Frame.MODEL, None, True))  # below the image content
    assert t.to_original(p).xy[0, 1] == 200


def test_mask_and_image_round_trip():
    arr = np.zeros((60, 90), bool)
    arr[10:50, 20:70] = True
    t = ImageTransform.fit((90, 60), 180)
    model = t.mask_to_model(Mask(arr))
    assert model.array.shape == (180, 180) and not model.array[130:].any()
    assert np.array_equal(t.mask_to_original(model).array, arr)
    img = np.random.default_rng(0).integers(0, 255, (60, 90, 3), dtype=np.uint8)
    assert t.image_to_model(img).shape == (180, 180, 3)


def test_wrong_frame_is_refused():
    import pytest

    t = ImageTransform.fit((10, 10), 20)
    with pytest.raises(ValueError, match="original frame"):
        t.to_model(Points([[0.5, 0.5]], Space(Frame.MODEL, None, True)))

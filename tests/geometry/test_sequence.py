import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vistakit.geometry import (
    MODEL_NORMALIZED, ROUTING_TOKENS, Boxes, Frame, ImageTransform, Keypoints, Mask, Points, Polygons, SequenceGrammar,
    Space, Span,
)  # fmt: skip

B = 100
G = SequenceGrammar(B)
HALF_BIN = 0.5 / B + 1e-9
unit = st.floats(0, 1, allow_nan=False)


def box_strategy():
    return st.tuples(unit, unit, unit, unit).map(lambda v: [min(v[0], v[2]), min(v[1], v[3]), max(v[0], v[2]), max(v[1], v[3])])


span_strategy = st.one_of(
    st.builds(lambda b: Span("box", Boxes([b], MODEL_NORMALIZED)), box_strategy()),
    st.builds(lambda p: Span("point", Points([p], MODEL_NORMALIZED)), st.tuples(unit, unit)),
    st.builds(
        lambda rings: Span("mask", Polygons(tuple(np.array(r) for r in rings), MODEL_NORMALIZED)),
        st.lists(st.lists(st.tuples(unit, unit), min_size=3, max_size=8), min_size=1, max_size=3),
    ),
    st.just(Span("none")),
    st.sampled_from(ROUTING_TOKENS).map(lambda t: Span("route", token=t)),
)


def close(a, b):
    return np.allclose(a, b, atol=HALF_BIN)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(span_strategy, st.none() | st.integers(0, 15), st.sampled_from(["red circle", "it"])), max_size=6))
def test_encode_decode_round_trip(items):
    spans = [Span(s.kind, s.geometry, phrase, img, s.token) for s, img, phrase in items]
    text = G.encode(spans)
    res = G.decode(text)
    assert res.problems == []
    assert [s.kind for s in res.spans] == [s.kind for s in spans]
    image = None
    for want, got in zip(spans, res.spans):
        image = want.image if want.image is not None else image
        assert got.image == image and got.phrase == want.phrase and got.token == want.token
        if want.kind == "box":
            assert close(got.geometry.xyxy(), want.geometry.xyxy())
        elif want.kind == "point":
            assert close(got.geometry.xy, want.geometry.xy)
        elif want.kind == "mask":
            assert len(got.geometry.rings) == len(want.geometry.rings)
            assert all(close(a, b) for a, b in zip(got.geometry.rings, want.geometry.rings))


def test_keypoints_round_trip():
    kp = Keypoints([[0.1, 0.2], [0, 0], [0.5, 0.5]], [2, 0, 1], ("head", "left hand", "foot"), MODEL_NORMALIZED)
    res = G.decode(G.encode_keypoints(kp))
    got = res.of_kind("keypoints")[0].geometry
    assert res.problems == [] and got.names == kp.names and got.visibility.tolist() == [2, 0, 1]
    assert close(got.xy[[0, 2]], kp.xy[[0, 2]])


def test_phrases_tie_words_to_locations():
    text = "a <p>red circle</p><point><loc_10><loc_20></point> left of a <p>blue square</p><point><loc_50><loc_50></point>"
    res = G.decode(text)
    assert [s.phrase for s in res.spans] == ["red circle", "blue square"]
    assert res.text == "a red circle left of a blue square"


def test_which_image_answer():
    res = G.decode("<img_2>")
    assert res.images == [2] and res.spans == []


def test_mask_encoding_from_original_frame():
    arr = np.zeros((50, 100), bool)
    arr[10:40, 20:60] = True
    g = SequenceGrammar(1000)
    t = ImageTransform.fit((100, 50), 224)
    res = g.decode(g.encode_mask(Mask(arr), t, points=8))
    rings = [t.to_original(s.geometry).rings[0] for s in res.of_kind("mask")]
    assert len(rings) == 1 and len(rings[0]) == 4  # a rectangle needs four points, not eight
    assert np.allclose(rings[0].min(0), [20.5, 10.5], atol=0.1) and np.allclose(rings[0].max(0), [59.5, 39.5], atol=0.1)
    assert g.encode_mask(Mask(np.zeros((5, 5), bool))) == "<none>"


@settings(max_examples=40, deadline=None)
@given(angle=st.floats(0, 360), cx=st.floats(20, 44), cy=st.floats(20, 44), sides=st.integers(3, 6))
def test_mask_rings_start_at_their_topmost_vertex(angle, cx, cy, sides):
    import cv2

    t = np.radians(angle) + 2 * np.pi * np.arange(sides) / sides
    arr = np.zeros((64, 64), np.uint8)
    cv2.fillPoly(arr, [np.round(np.stack([cx + 14 * np.cos(t), cy + 14 * np.sin(t)], 1)).astype(np.int32)], 1)
    g = SequenceGrammar(64, 16)
    (span,) = g.decode(g.encode_mask(Mask(arr.astype(bool)))).of_kind("mask")
    ring = span.geometry.rings[0]
    top = ring[:, 1].min()
    assert ring[0, 1] == top and ring[0, 0] == ring[ring[:, 1] == top, 0].min()  # topmost, then leftmost, first
    area = 0.5 * np.sum(ring[:, 0] * np.roll(ring[:, 1], -1) - np.roll(ring[:, 0], -1) * ring[:, 1])
    assert area < 0  # the tracing's orientation is kept (counter-clockwise on screen, y pointing down)


def test_encoders_refuse_original_frame_geometry():
    with pytest.raises(ValueError, match="model frame"):
        G.encode_boxes(Boxes([[0, 0, 1, 1]], Space(Frame.ORIGINAL, (10, 10))))


@pytest.mark.parametrize(
    "text, problem",
    [
        ("<box><loc_1><loc_2><loc_3></box>", "3 coordinates"),
        ("<mask><poly><loc_1><loc_2><loc_3><loc_4></poly></mask>", "needs at least 3"),
        ("<mask><poly><loc_1><loc_2><loc_3>", "odd number"),
        ("<loc_5>", "stray location"),
        ("<box><loc_1><loc_2><loc_3><loc_400></box>", "out of range"),
        ("<frobnicate>", "unexpected token"),
        ("<box><loc_9><loc_9><loc_1><loc_1></box>", "out of order"),
        ("<point><loc_1><loc_2>", "not closed"),
        ("<img_99>", "out of range"),
    ],
)
def test_problems_are_reported_not_raised(text, problem):
    res = G.decode(text)
    assert any(problem in p for p in res.problems), res.problems


def test_truncated_box_still_recovered_when_complete():
    res = G.decode("<box><loc_1><loc_2><loc_3><loc_4>")
    assert len(res.of_kind("box")) == 1 and res.problems


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_raises(text):
    res = G.decode(text)
    assert isinstance(res.problems, list)


vocab = st.sampled_from(G.special_tokens()[:12] + G.special_tokens()[B:] + ["word ", " ", "<", "[", "</x>", "<loc_-1>"])


@settings(max_examples=300, deadline=None)
@given(st.lists(vocab, max_size=60))
def test_token_soup_never_raises(tokens):
    G.decode("".join(tokens))


@settings(max_examples=200, deadline=None)
@given(st.lists(span_strategy, min_size=1, max_size=4), st.data())
def test_mutated_answers_never_raise(spans, data):
    text = G.encode(spans)
    i = data.draw(st.integers(0, len(text)))
    j = data.draw(st.integers(i, len(text)))
    mutated = text[:i] + data.draw(st.text(max_size=8)) + text[j:]
    G.decode(mutated)
    G.decode(text[:i])  # truncation

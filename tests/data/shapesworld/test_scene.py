import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vistakit.data.shapesworld.render import png_bytes, render
from vistakit.data.shapesworld.scene import COLOURS, FIGURE, SHAPES, Scene, SceneConfig, SceneSampler, Want


def scenes(n=30, **cfg):
    sampler = SceneSampler(SceneConfig(**cfg))
    return [sampler.sample(np.random.default_rng(i), shapes=(*SHAPES, FIGURE)) for i in range(n)]


def test_visible_masks_are_disjoint_and_painted_exactly():
    for scene in scenes():
        img = render(scene)
        seen = np.zeros((scene.height, scene.width), bool)
        for obj, vis, full in zip(scene.objects, scene.visible_masks, scene.full_masks):
            assert not (seen & vis).any()
            assert (vis <= full).all()
            assert (img[vis] == COLOURS[obj.colour]).all()
            seen |= vis


def test_every_object_stays_visible_enough():
    cfg = SceneConfig()
    for scene in scenes():
        for vis, full in zip(scene.visible_masks, scene.full_masks):
            assert vis.sum() >= cfg.min_visible * full.sum() and vis.sum() >= cfg.min_pixels


def test_occlusion_happens_somewhere():
    assert any((v != f).any() for s in scenes(60) for v, f in zip(s.visible_masks, s.full_masks))


def test_same_seed_same_scene_and_png_bytes():
    a, b = scenes(5), scenes(5)
    for x, y in zip(a, b):
        assert x.to_json() == y.to_json()
        assert png_bytes(render(x)) == png_bytes(render(y))


def test_json_round_trip_renders_the_same_pixels():
    for scene in scenes(10):
        again = Scene.from_json(json.loads(json.dumps(scene.to_json())))
        assert (render(again) == render(scene)).all()


def test_holdout_pairs_are_never_sampled_but_can_be_asked_for():
    sampler = SceneSampler(SceneConfig(holdout=frozenset({("purple", "star")})))
    rng = np.random.default_rng(0)
    for _ in range(200):
        s = sampler.sample(rng)
        assert not any(o.colour == "purple" and o.shape == "star" for o in s.objects)
    s = sampler.sample(rng, wants=[Want(shape="star", colour="purple")])
    assert any(o.colour == "purple" and o.shape == "star" for o in s.objects)


def test_keypoint_visibility_marks_occluded_joints():
    sampler = SceneSampler(SceneConfig(size=96, min_visible=0.3))
    rng = np.random.default_rng(0)
    flags = []
    for _ in range(40):
        s = sampler.sample(rng, wants=[Want(shape=FIGURE)], n=5)
        i = next(k for k, o in enumerate(s.objects) if o.is_figure)
        flags.extend(s.keypoint_visibility(i).tolist())
    assert set(flags) == {1, 2}


def test_bad_config_and_spec_are_refused():
    with pytest.raises(ValueError, match="scene size"):
        SceneConfig(size=4)
    with pytest.raises(ValueError, match="holdout"):
        SceneConfig(holdout=frozenset({("plaid", "star")}))
    with pytest.raises(ValueError, match="colour"):
        Scene.from_json(
            {
                "width": 8,
                "height": 8,
                "background": {"kind": "plain", "tone": [0, 0, 0], "tone2": [0, 0, 0]},
                "objects": [{"shape": "circle", "colour": "plaid", "size": "small", "center": [1, 1], "radius": 1}],
            }
        )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["width", "height", "background", "objects", "x"]), json_values))
def test_scene_spec_reader_fails_only_with_value_errors(obj):
    try:
        Scene.from_json(obj)
    except ValueError:
        pass
    except (TypeError, KeyError, IndexError, AttributeError) as exc:
        pytest.fail(f"spec reader raised {type(exc).__name__}: {exc}")

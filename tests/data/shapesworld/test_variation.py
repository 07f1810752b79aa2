"""ShapesWorld variation (geometry, object scale, anti-aliasing, shade jitter, backgrounds): default splits keep
their bytes, every annotation stays exact in the image's own pixels at any size, the hold-out stays held out."""

import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from vistakit.cli import main
from vistakit.data.record import read_records
from vistakit.data.shapesworld.canvas import Geometry
from vistakit.data.shapesworld.figures import figure_mask
from vistakit.data.shapesworld.generate import GenerateConfig, generate_split, make_example
from vistakit.data.shapesworld.render import render
from vistakit.data.shapesworld.scene import FIGURE, SHAPE_RADIUS, SHAPES, Scene, SceneConfig, SceneSampler
from vistakit.data.shapesworld.shades import SHADE_RANGES
from vistakit.data.shapesworld.shapes import shape_mask
from vistakit.geometry import Mask, SequenceGrammar, box_iou_xyxy
from vistakit.tasks import get_task

# sha256 over the files (path + bytes) of the train, test and compositional splits, n=48, seed 11, all defaults,
# computed before the variation options existed: the options off must reproduce those splits bit for bit.
DEFAULT_SPLITS_SHA256 = "27b495269769a1781089aa9de6286ad5e2d9b24c8807173ab89f4f1aa1dde83b"
EVERYTHING = dict(geometry="random", object_scale=(0.8, 1.2), render="aa", shade_jitter=0.6, backgrounds="more")


def _digest(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_default_splits_keep_their_bytes(tmp_path):
    for split in ("train", "test", "compositional"):
        generate_split(tmp_path, GenerateConfig(split=split, n=48, seed=11))
    assert _digest(tmp_path) == DEFAULT_SPLITS_SHA256
    assert "variation" not in json.loads((tmp_path / "dataset.json").read_text())["generator"]["train"]


def test_varied_splits_are_deterministic_and_recorded(tmp_path):
    for name in ("a", "b"):
        generate_split(tmp_path / name, GenerateConfig(split="train", n=20, seed=4, **EVERYTHING))
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    info = json.loads((tmp_path / "a" / "dataset.json").read_text())
    assert info["generator"]["train"]["variation"] == {
        "geometry": "random", "object_scale": [0.8, 1.2], "render": "aa", "shade_jitter": 0.6, "backgrounds": "more",
    }  # fmt: skip


def _inside(xy, w, h):
    xy = np.asarray(xy, float).reshape(-1, 2)
    return bool(((xy >= 0) & (xy <= [w, h])).all())


@pytest.mark.parametrize("options", [dict(geometry="160x96", render="aa"), dict(geometry="96x144"), EVERYTHING],
                         ids=["160x96-aa", "96x144", "random-everything"])  # fmt: skip
def test_annotations_are_exact_in_the_images_own_pixels(tmp_path, options):
    generate_split(tmp_path, GenerateConfig(split="train", n=64, seed=5, **options))
    grammar = SequenceGrammar(1000)
    sizes, box_ious, mask_ious = set(), [], []
    for rec in read_records(tmp_path / "train.jsonl"):  # the reader checks ranges against image_sizes too
        for path, (w, h) in zip(rec.image_paths(), rec.image_sizes):
            assert Image.open(path).size == (w, h), rec.id
            sizes.add((w, h))
        for objs, (w, h) in zip(rec.meta.get("instances", []), rec.image_sizes):
            assert all(Mask.from_rle(o["mask"]).array.shape == (h, w) for o in objs), rec.id
        t = rec.targets
        k = (t.image_ids or [0]) if rec.task in ("attcoseg", "coseg") else None
        for i, box in enumerate(t.boxes or []):
            w, h = rec.image_sizes[k[i] if k and i < len(k) else 0]
            assert 0 <= box[0] < box[2] <= w and 0 <= box[1] < box[3] <= h, (rec.id, box, w, h)
        for i, rle in enumerate(t.masks or []):
            w, h = rec.image_sizes[k[i] if k and i < len(k) else 0]
            assert Mask.from_rle(rle).array.shape == (h, w), rec.id
        w, h = rec.image_sizes[0] if rec.image_sizes else (0, 0)
        assert _inside(t.points or [], w, h) and all(_inside(tr["xy"], w, h) for tr in t.traces or [])
        assert all(_inside(kp["xy"], w, h) for kp in t.keypoints or []), rec.id
        for vp in rec.visual_prompts:
            vw, vh = rec.image_sizes[vp.image]
            assert _inside(vp.box or vp.point or [], vw, vh), rec.id
        # the answer text still decodes to the targets at this size
        pred = get_task(rec.task).parse(rec.answer, rec.image_sizes, grammar)
        assert not pred.problems, (rec.id, pred.problems)
        if rec.task in ("rec", "grec", "detection"):
            gold = np.asarray(t.boxes or [], float).reshape(-1, 4)
            assert len(pred.boxes) == len(gold), rec.id
            box_ious += [box_iou_xyxy(g, p)[0, 0] for g, p in zip(gold, pred.boxes)]
        if rec.task in ("res", "gres"):
            mask_ious += [Mask.from_rle(g).iou(Mask(p)) for g, p in zip(t.masks or [], pred.mask_arrays())]
        if rec.task == "pose":
            for g, p in zip(t.keypoints, pred.keypoints):
                assert np.abs(p.xy - np.asarray(g["xy"])).max() <= max(w, h) / 1000, rec.id  # one bin at most
        if rec.task in ("caption", "vqa", "reg", "nlvr"):
            assert pred.text == t.answers[0], rec.id
    if options["geometry"] != "random":
        assert sizes == {tuple(int(v) for v in options["geometry"].split("x"))}
    else:
        assert len(sizes) > 20 and any(w > h for w, h in sizes) and any(w < h for w, h in sizes)
    assert min(box_ious) >= 0.97 and np.mean(mask_ious) >= 0.95


def _independent_visible(scene):
    """Visible masks of an anti-aliased scene recomputed without the scene's code path: each object rasterised at
    k× on its own, sub-pixels hidden by later objects removed, counted per pixel by a reshape, kept where >= 1/2."""
    k, w, h = scene.supersample, scene.width, scene.height
    hires = []
    for o in scene.objects:
        c, r = (o.center[0] * k, o.center[1] * k), o.radius * k
        if o.shape == FIGURE:
            hires.append(figure_mask(o.keypoints() * k, 2 * r, (k * w, k * h)))
        else:
            hires.append(shape_mask(o.shape, c, r, o.rotation, (k * w, k * h)))
    covered, counts = np.zeros((k * h, k * w), bool), []
    for m in reversed(hires):
        counts.append((m & ~covered).reshape(h, k, w, k).sum(axis=(1, 3)))
        covered |= m
    counts = counts[::-1]
    taken, out = np.zeros((h, w), bool), []
    for n in reversed(counts):  # a half-half pixel goes to the upper object
        out.append((2 * n >= k * k) & ~taken)
        taken |= out[-1]
    return out[::-1], [n / (k * k) for n in counts]


def test_antialiased_pixels_and_masks_agree():
    square = SceneSampler(SceneConfig(size=64, supersample=4, shade_jitter=0.5, backgrounds="more"))
    wide = SceneSampler(SceneConfig(supersample=4, geometry=Geometry.parse("160x96")))
    blended = 0
    for s, sampler in enumerate([square, wide] * 6):
        scene = sampler.sample(np.random.default_rng(s), shapes=(*SHAPES, FIGURE))
        vis, cov = _independent_visible(scene)
        img = render(scene).astype(int)
        flat = render(Scene(scene.width, scene.height, scene.background, ())).astype(int)
        assert all(np.array_equal(a, b) for a, b in zip(vis, scene.visible_masks))
        union = np.zeros((scene.height, scene.width), bool)
        for obj, v, full, c in zip(scene.objects, scene.visible_masks, scene.full_masks, cov):
            assert not (union & v).any() and (v <= full).all()
            union |= v
            assert (img[c == 1] == obj.rgb).all()  # fully covered pixels are the object's shade exactly
            edge = (c > 0) & (c < 1)
            blended += int(edge.sum())
            assert edge.any()
        untouched = sum(cov) == 0
        assert (img[untouched] == flat[untouched]).all()  # no object: the background, untouched
    assert blended > 200


def test_json_round_trip_keeps_variation():
    sampler = SceneSampler(SceneConfig(supersample=4, shade_jitter=1.0, object_scale=(0.7, 0.9), backgrounds="more"))
    for s in range(6):
        scene = sampler.sample(np.random.default_rng(s))
        again = Scene.from_json(json.loads(json.dumps(scene.to_json())))
        assert again.supersample == 4 and 0.7 <= again.scale <= 0.9
        assert all(o.shade is not None for o in again.objects)
        assert (render(again) == render(scene)).all()
    with pytest.raises(ValueError, match="supersample must be an integer 1..8"):
        Scene.from_json({**scene.to_json(), "supersample": 99})
    with pytest.raises(ValueError, match=r"shade must be \[r, g, b\] integers"):
        Scene.from_json({**scene.to_json(), "objects": [{**scene.objects[0].to_json(), "shade": [300, 0, 0]}]})


def test_object_scale_and_shades_follow_the_config():
    sampler = SceneSampler(SceneConfig(object_scale=(0.7, 1.3), shade_jitter=1.0, geometry=Geometry.parse("random")))
    scales = []
    for s in range(30):
        scene = sampler.sample(np.random.default_rng(s))
        scales.append(scene.scale)
        short = min(scene.size)
        for o in scene.objects:
            rel = o.radius / (short * scene.scale * SHAPE_RADIUS[o.size])
            assert 0.92 - 1e-9 <= rel <= 1.08 + 1e-9
            assert SHADE_RANGES[o.colour].contains(o.rgb, tol=0.01)
    assert min(scales) < 0.8 and max(scales) > 1.2


def test_recolour_edits_take_a_shade_of_the_new_colour():
    cfg = GenerateConfig(tasks=("edit",), seed=3, shade_jitter=0.8)
    seen = 0
    for i in range(40):
        ex = make_example(cfg, i)[0]
        if ex.meta["edit"] != "recolour":
            continue
        for o in ex.extra_scenes["target_image"].objects:
            assert o.shade is not None and SHADE_RANGES[o.colour].contains(o.rgb, tol=0.01)
        seen += 1
    assert seen >= 3


def _combos(ex):
    return {(o.colour, o.shape) for s in [*ex.scenes, *ex.extra_scenes.values()] for o in s.objects}


def test_compositional_holdout_stays_held_out_under_variation():
    holdout = (("purple", "star"), ("green", "hexagon"))
    train = GenerateConfig(split="train", seed=2, holdout=holdout, **EVERYTHING)
    comp = GenerateConfig(split="compositional", seed=2, holdout=holdout, **EVERYTHING)
    for i in range(48):
        assert not _combos(make_example(train, i)[0]) & set(holdout)
        assert _combos(make_example(comp, i)[0]) & set(holdout)


def test_bad_variation_options_are_refused():
    with pytest.raises(ValueError, match="geometry must be SIDE, WIDTHxHEIGHT"):
        GenerateConfig(geometry="wide")
    with pytest.raises(ValueError, match="render must be one of flat, aa"):
        GenerateConfig(render="smooth")
    with pytest.raises(ValueError, match=r"shade_jitter must be in \[0, 1\]"):
        GenerateConfig(shade_jitter=2.0)
    with pytest.raises(ValueError, match="object_scale must be"):
        GenerateConfig(object_scale=(1.2, 0.8))
    with pytest.raises(ValueError, match="backgrounds must be one of classic, more"):
        GenerateConfig(backgrounds="photo")
    with pytest.raises(ValueError, match="size 96 or geometry '160x96', not both"):
        GenerateConfig(size=96, geometry="160x96")


def test_cli_writes_one_test_split_per_geometry(tmp_path, capsys):
    out = tmp_path / "geo"
    assert main(["data", "generate", "--out", str(out), "--split", "test", "--n", "6", "--seed", "7",
                 "--tasks", "rec,vqa", "--geometry", "64x64,160x96,96x144", "--render", "aa"]) == 0  # fmt: skip
    for geo in ("64x64", "160x96", "96x144"):
        recs = list(read_records(out / geo / "test.jsonl"))
        w, h = (int(v) for v in geo.split("x"))
        assert len(recs) == 6 and all(r.image_sizes == [(w, h)] for r in recs)
    assert main(["data", "generate", "--out", str(out), "--n", "2", "--size", "96", "--geometry", "160x96"]) == 2
    assert "give --size or --geometry, not both" in capsys.readouterr().err
    assert main(["data", "generate", "--out", str(out), "--n", "2", "--geometry", "160by96"]) == 2
    err = capsys.readouterr().err
    assert "geometry must be SIDE, WIDTHxHEIGHT" in err and len(err.strip().splitlines()) == 1

"""The written split: determinism, answers that decode back to their targets, and the per-task guarantees."""

import filecmp
import re
import json

import numpy as np
import pytest

from vistakit.data.record import read_records
from vistakit.data.shapesworld.generate import GenerateConfig, generate_split, make_example, task_names
from vistakit.data.shapesworld.language import holds, matching
from vistakit.data.shapesworld.scene import COLOURS, SHAPES, SIZES
from vistakit.geometry import Mask, SequenceGrammar, box_iou_xyxy
from vistakit.tasks import get_task

GRAMMAR = SequenceGrammar(1000)
REQUIRED = {
    "caption", "vqa", "rec", "res", "grec", "gres", "reg", "grounded_caption", "detection", "pose", "attcoseg",
    "coseg", "nlvr", "which_image", "generate", "edit",
}  # fmt: skip


def test_every_task_is_generated(dataset):
    assert REQUIRED <= set(task_names())
    info = json.loads((dataset / "dataset.json").read_text())
    assert info["format"] == "vistakit" and info["splits"] == {"train": 80}
    assert set(info["tasks"]["train"]) == REQUIRED


def test_same_seed_gives_byte_identical_files(tmp_path):
    for name in ("a", "b"):
        generate_split(tmp_path / name, GenerateConfig(split="val", n=40, seed=3))
    cmp = filecmp.dircmp(tmp_path / "a", tmp_path / "b")
    assert not cmp.diff_files and not cmp.left_only and not cmp.right_only
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) > 40
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def test_splits_and_seeds_use_different_streams():
    a = make_example(GenerateConfig(split="train", seed=0), 1)[0].scenes[0].to_json()
    b = make_example(GenerateConfig(split="val", seed=0), 1)[0].scenes[0].to_json()
    c = make_example(GenerateConfig(split="train", seed=1), 1)[0].scenes[0].to_json()
    assert a != b and a != c


def test_answers_decode_back_to_targets(dataset):
    box_ious, mask_ious = [], []
    for rec in read_records(dataset / "train.jsonl"):
        task = get_task(rec.task)
        pred = task.parse(rec.answer, rec.image_sizes, GRAMMAR)
        assert not pred.problems, (rec.id, pred.problems)
        t = rec.targets
        if rec.task in ("rec", "grec", "detection"):
            gold = np.asarray(t.boxes or [], float).reshape(-1, 4)
            assert len(pred.boxes) == len(gold), rec.id
            for g, p in zip(gold, pred.boxes):
                box_ious.append((box_iou_xyxy(g, p)[0, 0], min(g[2] - g[0], g[3] - g[1])))
            if rec.task == "grec" and not t.boxes:
                assert pred.empty
        if rec.task in ("res", "gres", "attcoseg", "coseg"):
            gold = [Mask.from_rle(m).array for m in t.masks or []]
            got = pred.mask_arrays()
            assert len(got) == len(gold), rec.id
            mask_ious += [Mask(g).iou(Mask(p)) for g, p in zip(gold, got)]
            if rec.task in ("attcoseg", "coseg"):
                assert sorted(pred.image_ids) == sorted(t.image_ids)
        if rec.task == "pose":
            for g, p in zip(t.keypoints, pred.keypoints):
                assert list(p.visibility) == g["visibility"]
                assert np.abs(p.xy - np.asarray(g["xy"])).max() < 0.1
        if rec.task == "grounded_caption":
            assert np.abs(pred.points - np.asarray(t.points)).max() < 0.1
            assert [w["text"] for w in t.words] == pred.labels
        if rec.task == "which_image":
            assert pred.image_ids == t.image_ids
        if rec.task in ("caption", "vqa", "reg", "nlvr"):
            assert pred.text == t.answers[0]
    box_ious = np.array(box_ious)
    # Objects' visible boxes are >= 0.19 × the image side (SceneConfig.min_box), so every box decodes at IoU >= 0.99.
    assert box_ious[:, 1].min() >= 12
    assert box_ious[:, 0].min() >= 0.99
    # Masks go through the 32-point polygon codec; on these simple shapes it is near exact.
    assert np.mean(mask_ious) >= 0.97 and min(mask_ious) >= 0.8


def _examples(task, n=40, split="train", **kw):
    cfg = GenerateConfig(split=split, tasks=(task,), seed=11, **kw)
    return [make_example(cfg, i)[0] for i in range(n)]


def _desc_from_words(words):
    from vistakit.data.shapesworld.scene import COLOURS, SIZES

    d = {}
    for w in words.split():
        if w in COLOURS:
            d["colour"] = w
        elif w in SIZES:
            d["size"] = w
        elif w != "object":
            d["shape"] = w
    return d


@pytest.mark.parametrize("task", ["rec", "res"])
def test_rec_expressions_match_exactly_one_object(task):
    kinds = set()
    for ex in _examples(task, 60):
        scene, i, expr = ex.scenes[0], ex.meta["object"], ex.slots["phrase"]
        kinds.add(ex.meta["expression_kind"])
        assert expr.startswith("the ")
        if ex.meta["expression_kind"] == "attributes":
            assert matching(scene, _desc_from_words(expr[4:])) == [i]
        else:
            rel = next(r for r in ("left of", "right of", "above", "below") if f" {r} the " in expr)
            head, anchor = expr[4:].split(f" {rel} the ")
            (a,) = matching(scene, _desc_from_words(anchor))
            group = [k for k in matching(scene, _desc_from_words(head)) if k != a]
            assert [k for k in group if holds(scene, k, a, rel)] == [i]
            assert all(holds(scene, k, a, rel) is False for k in group if k != i)
            assert Mask.from_rle(ex.meta["anchor_mask"]).array.tolist() == scene.visible_masks[a].tolist()
        assert ("anchor_mask" in ex.meta) == (ex.meta["expression_kind"] == "relation")
        assert ex.meta["relation"] == (rel if ex.meta["expression_kind"] == "relation" else None)
    assert kinds == {"attributes", "relation"}


def test_relation_rate_sets_how_often_referring_records_use_relations():
    def share(rate: float) -> float:
        cfg = GenerateConfig(n=200, seed=5, tasks=("rec",), relation_rate=rate)
        return np.mean([make_example(cfg, i)[0].meta["expression_kind"] == "relation" for i in range(cfg.n)])

    assert share(0.0) == 0.0
    assert share(1.0) > share(0.3) + 0.15  # scenes without a unique relational expression fall back to attributes
    with pytest.raises(ValueError, match="relation_rate"):
        GenerateConfig(relation_rate=1.5)


def test_grounded_position_questions_carry_their_answer_region_anchor_and_relation():
    cfg = GenerateConfig(n=120, seed=5, tasks=("vqa",), ground_questions=("position",))
    plain = GenerateConfig(n=120, seed=5, tasks=("vqa",))
    answers = set()
    for i in range(cfg.n):
        ex, base = make_example(cfg, i)[0], make_example(plain, i)[0]
        assert ex.slots == base.slots and ex.targets == base.targets  # the question and answer do not change
        if ex.meta["question_kind"] != "position":
            assert ex.meta == base.meta
            continue
        scene, answer = ex.scenes[0], ex.targets.answers[0]
        answers.add(answer)
        rel = ex.meta["relation"]
        head, anchor = ex.slots["question"].removeprefix("Is the ").removesuffix("?").split(
            {"left of": " to the left of the ", "right of": " to the right of the "}.get(rel, f" {rel} the "))
        (a,) = matching(scene, _desc_from_words(anchor))
        (o,) = matching(scene, _desc_from_words(head))
        assert holds(scene, o, a, rel) is (answer == "yes")
        assert Mask.from_rle(ex.meta["anchor_mask"]).array.tolist() == scene.visible_masks[a].tolist()
        region = ex.meta["grounding_mask"]
        assert (region is None) == (answer == "no")
        if region is not None:
            assert Mask.from_rle(region).array.tolist() == scene.visible_masks[o].tolist()
    assert answers == {"yes", "no"}
    with pytest.raises(ValueError, match="size questions have no answer region"):
        GenerateConfig(ground_questions=("size",))
    with pytest.raises(ValueError, match="ground_questions: colour cannot be grounded"):
        GenerateConfig(ground_questions=("colour",))
    with pytest.raises(ValueError, match="question_grounding must be one of answer, objects"):
        GenerateConfig(ground_questions=("position",), question_grounding="both")


def test_comparisons_grounded_as_objects_carry_both_objects_whatever_the_answer():
    cfg = GenerateConfig(n=150, seed=5, tasks=("vqa",), ground_questions=("position", "size"),
                         question_grounding="objects")  # fmt: skip
    plain = GenerateConfig(n=150, seed=5, tasks=("vqa",))
    seen = set()
    for i in range(cfg.n):
        ex, base = make_example(cfg, i)[0], make_example(plain, i)[0]
        assert ex.slots == base.slots and ex.targets == base.targets
        kind = ex.meta["question_kind"]
        if kind not in ("position", "size"):
            assert ex.meta == base.meta
            continue
        scene, question = ex.scenes[0], ex.slots["question"]
        seen.add((kind, ex.targets.answers[0] in ("yes", "no")))
        a = next(j for j in range(len(scene.objects))
                 if Mask.from_rle(ex.meta["grounding_mask"]).array.tolist() == scene.visible_masks[j].tolist())
        b = next(j for j in range(len(scene.objects))
                 if Mask.from_rle(ex.meta["anchor_mask"]).array.tolist() == scene.visible_masks[j].tolist())
        assert a != b and "relation" not in ex.meta  # no relation label: the direction is not trained on it
        # the map's object is the one the question names first, the anchor the second
        m = re.fullmatch(r"(?:Is|Which is larger,) the (.+?) (?:to the left of|to the right of|above|below|larger "
                         r"than|or) the (.+)\?", question)  # fmt: skip
        assert a in matching(scene, _desc_from_words(m[1])) and b in matching(scene, _desc_from_words(m[2]))
    assert {k for k, _ in seen} == {"position", "size"}


def test_reg_answers_identify_the_prompted_object():
    for ex in _examples("reg", 30):
        scene, i = ex.scenes[0], ex.meta["object"]
        for ref in ex.targets.answers:
            assert matching(scene, _desc_from_words(ref.removeprefix("the "))) == [i]
        vp = ex.visual_prompts[0]
        if vp.point:
            x, y = vp.point
            assert scene.visible_masks[i][int(y), int(x)]


@pytest.mark.parametrize("task", ["grec", "gres"])
def test_grec_has_no_target_and_multi_target_cases(task):
    counts = [len(ex.targets.boxes) for ex in _examples(task, 60)]
    assert counts.count(0) >= 6 and sum(c > 1 for c in counts) >= 6
    for ex in _examples(task, 20):
        assert len(matching(ex.scenes[0], _desc_from_words(ex.slots["phrase"]))) == len(ex.targets.boxes)


def test_attcoseg_exactly_two_images_hold_the_object():
    for ex in _examples("attcoseg", 30):
        d = ex.meta["attributes"]
        hits = [len(matching(s, d)) for s in ex.scenes]
        assert 2 <= len(ex.scenes) <= 4
        assert sorted(k for k, h in enumerate(hits) if h) == ex.targets.image_ids
        assert all(h in (0, 1) for h in hits)


def test_coseg_class_is_the_only_common_one():
    for ex in _examples("coseg", 20):
        shared = set.intersection(*({o.shape for o in s.objects} for s in ex.scenes))
        assert shared == {ex.meta["common_shape"]}


def test_which_image_has_one_answer_and_nlvr_is_balanced():
    for ex in _examples("which_image", 20):
        d = ex.meta["attributes"]
        assert [k for k, s in enumerate(ex.scenes) if matching(s, d)] == ex.targets.image_ids
    answers = [ex.targets.answers[0] for ex in _examples("nlvr", 60)]
    assert 15 <= answers.count("true") <= 45


def test_nlvr_counting_statements_agree_in_number_and_are_true_when_labelled_true():
    from vistakit.data.shapesworld.language import NUMBER_WORDS

    seen = set()
    for ex in _examples("nlvr", 200):
        statement = ex.slots["statement"]
        if not statement.endswith("in the two images together."):
            continue
        words = statement.split()
        if words[2] == "no":  # "There are no stars in …"
            n, shape = 0, words[3]
            assert words[:2] == ["There", "are"]
        else:  # "There is exactly one star in …" / "There are exactly two stars in …"
            n, shape = NUMBER_WORDS.index(words[3]), words[4]
            assert n > 0, statement  # never "exactly no stars"
            assert words[:3] == (["There", "is", "exactly"] if n == 1 else ["There", "are", "exactly"]), statement
        assert shape.endswith("s") == (n != 1), statement
        single = shape[:-1] if n != 1 else shape
        total = sum(len(matching(s, {"shape": single})) for s in ex.scenes)
        assert (ex.targets.answers[0] == "true") == (total == n), statement
        seen.add(min(n, 2))
    assert seen == {0, 1, 2}


def _combos(ex):
    from vistakit.data.shapesworld.scene import Scene

    scenes = list(ex.scenes) + list(ex.extra_scenes.values())
    return {(o.colour, o.shape) for s in scenes for o in s.objects if isinstance(s, Scene)}


def test_compositional_holdout_is_respected():
    train = GenerateConfig(split="train", seed=2, holdout=(("purple", "star"), ("green", "hexagon")))
    comp = GenerateConfig(split="compositional", seed=2, holdout=train.holdout)
    for i in range(96):
        assert not _combos(make_example(train, i)[0]) & set(train.holdout)
        assert _combos(make_example(comp, i)[0]) & set(comp.holdout)


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="unknown split"):
        GenerateConfig(split="dev")
    with pytest.raises(KeyError, match="known: attcoseg"):
        GenerateConfig(tasks=("segment",))
    with pytest.raises(ValueError, match="held-out"):
        GenerateConfig(split="compositional", holdout=())


def test_meta_instances_list_every_visible_object(dataset):
    """``meta.instances``: per image, every object it shows with its full phrase and visible mask — the target
    instances among them — so training can label every object, not only the ones the task asks about."""
    checked = 0
    for rec in read_records(dataset / "train.jsonl"):
        if not rec.images:
            assert "instances" not in rec.meta, rec.id
            continue
        ann = rec.meta["instances"]
        assert len(ann) == len(rec.images), rec.id
        for objs, (w, h) in zip(ann, rec.image_sizes):
            assert 1 <= len(objs) <= 5, rec.id
            union = np.zeros((h, w), bool)
            for o in objs:
                size, colour, shape = o["label"].split()
                assert size in SIZES and colour in COLOURS and shape in (*SHAPES, "figure"), o["label"]
                m = Mask.from_rle(o["mask"]).array
                assert m.shape == (h, w) and m.any() and not (m & union).any(), rec.id  # visible parts are disjoint
                union |= m
        if rec.task in ("res", "gres") and rec.targets.masks:
            target = Mask.from_rle(rec.targets.masks[0]).array
            masks = [Mask.from_rle(o["mask"]).array for o in ann[0]]
            if rec.task == "res":  # one object: its mask is one of the image's instances
                assert any(np.array_equal(target, m) for m in masks), rec.id
            assert not (target & ~np.any(masks, axis=0)).any(), rec.id  # nothing outside the listed objects
            checked += 1
    assert checked >= 5


def test_vqa_referents_are_the_objects_the_question_names():
    """``cite_referents``: the same questions and answers (it draws nothing at random), plus the boxes and phrases
    of the objects each question names — which is what the grounded VQA answer cites."""
    from vistakit.data.shapesworld.examples import visible_box

    plain, cited = _examples("vqa", 80), _examples("vqa", 80, cite_referents=("vqa",))
    kinds = set()
    for a, b in zip(plain, cited):
        assert a.slots == b.slots and a.targets.answers == b.targets.answers
        assert a.targets.boxes is None and a.scenes[0].to_json() == b.scenes[0].to_json()
        scene, kind, answer = b.scenes[0], b.meta["question_kind"], b.targets.answers[0]
        kinds.add(kind)
        boxes, labels = b.targets.boxes, b.targets.labels
        assert len(boxes) == len(labels)
        for box, label in zip(boxes, labels):
            assert label in b.slots["question"], (label, b.slots)
            named = matching(scene, _desc_from_words(label))
            assert any(visible_box(scene, i) == box for i in named), (label, box)
        if kind == "count":
            assert len(boxes) == int(answer)
        elif kind == "exist":
            assert (answer == "yes") == bool(boxes)
        elif kind in ("position", "size"):
            assert len(boxes) == 2 and labels[0] != labels[1]
        else:
            assert len(boxes) == 1
    assert kinds == {"colour", "shape", "count", "exist", "position", "size"}


def test_nlvr_referents_are_every_named_object_of_each_image():
    from vistakit.data.shapesworld.examples import visible_box

    plain, cited = _examples("nlvr", 60), _examples("nlvr", 60, cite_referents=("nlvr",))
    kinds = set()
    for a, b in zip(plain, cited):
        assert a.slots == b.slots and a.targets.answers == b.targets.answers and a.targets.boxes is None
        kinds.add(b.meta["statement_kind"])
        t = b.targets
        assert len(t.boxes) == len(t.labels) == len(t.image_ids)
        label = t.labels[0] if t.labels else None
        for k, scene in enumerate(b.scenes):
            mine = [box for box, o in zip(t.boxes, t.image_ids) if o == k]
            if label is not None:
                named = matching(scene, _desc_from_words(label))
                assert sorted(mine) == sorted(visible_box(scene, i) for i in named)
        if b.meta["statement_kind"] != "count":  # both / only: truth follows from presence per image
            has = [k in t.image_ids for k in range(2)]
            truth = all(has) if b.slots["statement"].startswith("Both") else has == [False, True]
            assert (t.answers[0] == "true") == truth
    assert kinds == {"both", "only", "count"}


def test_cite_referents_refuses_other_tasks():
    with pytest.raises(ValueError, match="rec cannot cite referents"):
        GenerateConfig(cite_referents=("rec",))


def test_question_kinds_set_which_questions_vqa_asks():
    only = GenerateConfig(n=60, seed=1, tasks=("vqa",), question_kinds=(("size", 1.0), ("colour", 0.0)))
    assert {make_example(only, i)[0].meta["question_kind"] for i in range(only.n)} == {"size"}
    both = GenerateConfig(n=200, seed=1, tasks=("vqa",), question_kinds=(("position", 3.0), ("count", 1.0)))
    kinds = [make_example(both, i)[0].meta["question_kind"] for i in range(both.n)]
    assert set(kinds) == {"position", "count"} and kinds.count("position") > 2 * kinds.count("count")
    with pytest.raises(ValueError, match="no VQA question kind 'colours'; expected some of colour, count"):
        GenerateConfig(question_kinds=(("colours", 1.0),))
    with pytest.raises(ValueError, match="the weight of 'size' must be a number >= 0"):
        GenerateConfig(question_kinds=(("size", -1.0),))
    with pytest.raises(ValueError, match="at least one kind needs a weight > 0"):
        GenerateConfig(question_kinds=(("size", 0.0),))

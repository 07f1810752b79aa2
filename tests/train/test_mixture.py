from collections import Counter

import pytest

from vistakit.data.record import Record
from vistakit.train.mixture import TaskMixture, fingerprint


def _records(counts):
    out = []
    for task, n in counts.items():
        for i in range(n):
            out.append(Record(id=f"{task}-{i}", task=task, images=["a.png"], image_sizes=[(8, 8)], prompt="<image>\nq"))
    return out


def test_batches_are_a_function_of_seed_and_step():
    recs = _records({"rec": 5, "res": 7, "vqa": 3})
    a = TaskMixture(recs, seed=3)
    again = TaskMixture(recs, seed=3)
    assert [r.id for r in a.batch(10, 8)] == [r.id for r in again.batch(10, 8)]
    assert fingerprint(a.batch(10, 8)) == fingerprint(again.batch(10, 8))
    assert fingerprint(a.batch(10, 8)) != fingerprint(a.batch(11, 8))
    assert fingerprint(a.batch(10, 8, micro=1)) != fingerprint(a.batch(10, 8, micro=0))
    assert fingerprint(a.batch(10, 8)) != fingerprint(TaskMixture(recs, seed=4).batch(10, 8))
    assert a.sizes() == {"res": 7, "rec": 5, "vqa": 3} and len(a) == 15


def test_weights_shape_the_task_frequencies():
    mix = TaskMixture(_records({"rec": 2, "res": 50}), weights={"rec": 3.0, "res": 1.0})
    counts = Counter(r.task for s in range(200) for r in mix.batch(s, 10))
    assert mix.weights() == pytest.approx({"rec": 0.75, "res": 0.25})
    assert 0.70 < counts["rec"] / 2000 < 0.80


def test_zero_weight_drops_a_task():
    mix = TaskMixture(_records({"rec": 2, "res": 2}), weights={"res": 0})
    assert {r.task for s in range(20) for r in mix.batch(s, 4)} == {"rec"}


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"task\(s\) \['recc'\] with no records"):
        TaskMixture(_records({"rec": 2}), weights={"recc": 1.0})
    with pytest.raises(ValueError, match="no records"):
        TaskMixture([])
    with pytest.raises(ValueError, match="positive sum"):
        TaskMixture(_records({"rec": 2}), weights={"rec": 0})

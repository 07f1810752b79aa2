import pytest

from vistakit.train.config import TrainConfig


def test_overrides_typed_and_model_prefix():
    cfg = TrainConfig().with_overrides(
        [
            "steps=20",
            "lr=3e-4",
            "bf16=true",
            "tasks=rec,res",
            "mixture=rec:2,res:0.5",
            "model.lm.layers=2",
            "stage=stage1",
        ]
    )
    assert cfg.steps == 20 and cfg.lr == pytest.approx(3e-4) and cfg.bf16 is True
    assert cfg.tasks == ("rec", "res")
    assert cfg.mixture == {"rec": 2.0, "res": 0.5}
    assert cfg.model_overrides == ("lm.layers=2",)
    assert cfg.stage == "stage1"


def test_mixture_override_merges():
    cfg = TrainConfig(mixture={"rec": 1.0}).with_overrides(["mixture=res:3"])
    assert cfg.mixture == {"rec": 1.0, "res": 3.0}


@pytest.mark.parametrize(
    "item, words",
    [
        ("stepz=3", "unknown train setting 'stepz'"),
        ("steps=abc", "cannot read 'abc' as int"),
        ("steps=0", "steps must be an integer >= 1"),
        ("bf16=maybe", "cannot read 'maybe' as bool"),
        ("stage=stage9", "stage must be one of"),
        ("mixture=rec", "mixture=task:weight"),
        ("lr", "must look like key=value"),
        ("lr=-1", "lr must be > 0"),
    ],
)
def test_bad_overrides_name_the_problem(item, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace("[", r"\[")):
        TrainConfig().with_overrides([item])


def test_json_round_trip(tmp_path):
    cfg = TrainConfig(data="d", out="o", tasks=("rec",), mixture={"rec": 2.0}, model_overrides=("lm.layers=2",))
    cfg.save(tmp_path / "c.json")
    assert TrainConfig.load(tmp_path / "c.json") == cfg


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match=r"unknown train setting\(s\) \['nope'\]"):
        TrainConfig.from_dict({"nope": 1})

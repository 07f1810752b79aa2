"""Training writes the run's training domain (:mod:`vistakit.data.domain`) beside every model it saves, and a run
started from a checkpoint keeps what that checkpoint had learnt."""

from vistakit import Vista
from vistakit.data.domain import DOMAIN_FILE, read_domain
from vistakit.train.config import TrainConfig
from vistakit.train.loop import Trainer


def _cfg(data, out, micro, **kw):
    base = dict(data=str(data), out=str(out), steps=2, batch_size=4, lr=3e-3, warmup=1, log_every=0, eval_every=0,
                save_every=1, tensorboard=False, tokenizer_vocab=300, max_new_tokens=24)  # fmt: skip
    base.update(kw)
    return TrainConfig(**base).with_overrides(micro)


def test_every_saved_model_records_its_tasks_and_images_and_a_finetune_keeps_them(sw_data, micro, tmp_path):
    Trainer(_cfg(sw_data, tmp_path / "run", micro, mixture={"detection": 0.0}), progress=False).run()
    domain = read_domain(tmp_path / "run")
    assert domain is not None and domain.tasks == ["rec", "vqa", "which_image"]  # detection had no weight
    assert domain.sources == ["shapesworld"] and domain.features["longer_side"] == [64.0, 64.0]
    steps = sorted((tmp_path / "run" / "checkpoints").iterdir())
    assert len(steps) == 2 and all(read_domain(s) == domain for s in steps)
    assert Vista.from_pretrained(tmp_path / "run").domain == domain

    Trainer(_cfg(sw_data, tmp_path / "ft", micro, init=str(tmp_path / "run"), tasks=["detection"]),
            progress=False).run()  # fmt: skip
    tuned = read_domain(tmp_path / "ft")
    assert tuned.tasks == ["detection", "rec", "vqa", "which_image"]
    assert tuned.records["detection"] > 0 and tuned.records["rec"] == domain.records["rec"]
    assert (tmp_path / "ft" / DOMAIN_FILE).is_file()

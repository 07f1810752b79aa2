import pytest
import torch

from vistakit.model import load_for_finetuning, load_pretrained
from vistakit.train.config import TrainConfig
from vistakit.train.loop import Trainer, describe


def _cfg(data, out, micro, **kw):
    base = dict(data=str(data), out=str(out), steps=2, batch_size=4, lr=3e-3, warmup=1, log_every=0, eval_every=0,
                save_every=0, tensorboard=False, tokenizer_vocab=300, max_new_tokens=24)  # fmt: skip
    base.update(kw)
    return TrainConfig(**base).with_overrides(micro)


@pytest.fixture(scope="module")
def start(sw_data, micro, tmp_path_factory):
    """A trained micro checkpoint to start new runs from."""
    out = tmp_path_factory.mktemp("init") / "start"
    Trainer(_cfg(sw_data, out, micro), progress=False).run()
    return out


def test_init_starts_from_the_checkpoint_weights_and_tokenizer(sw_data, micro, start, tmp_path):
    ref, ref_processor = load_pretrained(start)
    trainer = Trainer(_cfg(sw_data, tmp_path / "ft", micro, init=str(start), stage="stage2", seed=5), progress=False)
    assert trainer.start_step == 0 and trainer.init_report.new == [] and trainer.init_report.dropped == []
    assert trainer.processor.tokenizer.get_vocab() == ref_processor.tokenizer.get_vocab()
    theirs = ref.state_dict()
    assert all(torch.equal(v, theirs[k]) for k, v in trainer.model.state_dict().items())
    assert any(line.startswith(f"initialised from {start}: every weight loaded") for line in describe(trainer))
    trainer.run()
    # stage 2 after the first run: only the image tokenizer moved away from the checkpoint
    changed = {k.split(".")[0] for k, v in trainer.model.state_dict().items() if not torch.equal(v, theirs[k])}
    assert changed == {"image_tokenizer"}
    assert load_pretrained(tmp_path / "ft")[1].tokenizer.get_vocab() == ref_processor.tokenizer.get_vocab()


def test_init_with_an_override_adds_fresh_heads_and_keeps_the_rest(start):
    model, processor, report = load_for_finetuning(start, ["vision.attribute_weight=0.5",
                                                           "vision.attribute_vocab=shapesworld"])
    assert report.new and all(k.startswith("attributes.") for k in report.new), report.new
    assert report.dropped == [] and "new tensor(s) initialised fresh" in report.summary()
    assert model.training and processor.config.vision.attribute_weight == 0.5
    theirs = load_pretrained(start)[0].state_dict()
    assert all(torch.equal(v, theirs[k]) for k, v in model.state_dict().items() if k in theirs)
    # and back: a checkpoint's tensors the changed model does not use are reported, not loaded
    _, _, back = load_for_finetuning(start, ["image_tokenizer.grounding=false", "image_tokenizer.where_tokens=false"])
    assert back.new == [] and "loc_token_ids" in back.dropped and "checkpoint tensor(s) unused" in back.summary()


def test_init_refuses_what_it_cannot_reuse(sw_data, micro, start, tmp_path):
    with pytest.raises(ValueError, match=r"change the shape of \d+ tensor\(s\)"):
        load_for_finetuning(start, ["lm.hidden=48"])
    with pytest.raises(FileNotFoundError, match="not a checkpoint directory"):
        Trainer(_cfg(sw_data, tmp_path / "a", micro, init=str(tmp_path / "nowhere")), progress=False)
    with pytest.raises(FileNotFoundError, match="no checkpoint directory"):
        load_for_finetuning(tmp_path / "nowhere")

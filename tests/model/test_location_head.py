"""The location head (PixelLLM): its L1 loss on the answers' location tokens, the same through every forward path,
learned by training, saved with the checkpoint; and the engine's head readout of a location's bin."""

from __future__ import annotations

import dataclasses
import re

import pytest
import torch
from PIL import Image

from vistakit.data.record import Record, Targets
from vistakit.model import Engine, LMConfig, VistaProcessor, build_model, load_pretrained
from vistakit.model.location_head import location_logprobs

from .conftest import image, tiny_config


def test_logprobs_put_the_most_mass_on_the_nearest_bin():
    values = torch.tensor([0.0, 0.3, 0.999, 0.5])
    lp = location_logprobs(values, 8)
    assert lp.argmax(-1).tolist() == [0, 2, 7, 3]  # 0.5 * 8 = 4.0 lies between the centres 3.5 and 4.5: first wins
    assert torch.allclose(lp.logsumexp(-1), torch.zeros(4), atol=1e-6)


def _config(**lm):
    return tiny_config(lm=dataclasses.replace(LMConfig(kind="llama", hidden=32, layers=2, heads=2, intermediate=64,
                                                       max_positions=256), **lm))  # fmt: skip


def test_config_checks_the_head_settings():
    with pytest.raises(ValueError, match="location_weight must be a number >= 0"):
        _config(location_weight=-1.0)
    with pytest.raises(ValueError, match="location_readout 'head' needs the location head"):
        _config(location_readout="head")
    with pytest.raises(ValueError, match="location_readout must be one of"):
        _config(location_weight=0.5, location_readout="nearest")


@pytest.fixture
def head_model(tokenizer):
    torch.manual_seed(0)
    return build_model(_config(location_weight=0.5), tokenizer)


def _batch(processor, root, boxes, questions=0):
    """REC records for ``boxes`` (answers written from them), then ``questions`` VQA records (no locations)."""
    Image.new("RGB", (16, 16), (200, 30, 30)).save(root / "0.png")
    recs = [Record(f"r{i}", "rec", ["0.png"], [(16, 16)], "<image>\nWhere is the small red circle?",
                   targets=Targets(boxes=[box], labels=["small red circle"]), root=root)
            for i, box in enumerate(boxes)]  # fmt: skip
    recs += [Record(f"q{i}", "vqa", ["0.png"], [(16, 16)], "<image>\nIs there a circle?", "yes",
                    targets=Targets(answers=["yes"]), root=root) for i in range(questions)]  # fmt: skip
    return processor.from_records(recs)


def _fwd(model, batch, **kw):
    keys = ("pixel_values", "image_to_sample", "input_ids", "attention_mask", "instruction_ids", "instruction_mask",
            "labels")  # fmt: skip
    return model(**{k: batch[k] for k in keys}, **kw)


def test_the_loss_covers_location_targets_only_and_agrees_across_forward_paths(head_model, tokenizer, tmp_path):
    processor = VistaProcessor(tokenizer, head_model.config)
    batch = _batch(processor, tmp_path, [[2.0, 4.0, 10.0, 14.0]], questions=1)
    outs = [_fwd(head_model, batch, return_logits=r, pack=p) for r in (False, True) for p in (False, True)]
    for out in outs:
        assert out.location_loss is not None
        assert out.location_loss.item() == pytest.approx(outs[0].location_loss.item(), rel=1e-5)
        assert out.loss.item() == pytest.approx(outs[0].loss.item(), rel=1e-5)
    # the loss is the mean L1 over the four <loc_k> targets, against their bin centres
    hidden = head_model.lm.base_model(inputs_embeds=head_model.embed(*(batch[k] for k in (
        "pixel_values", "image_to_sample", "input_ids", "instruction_ids", "instruction_mask"))),
        attention_mask=batch["attention_mask"], position_ids=head_model.position_ids(batch["attention_mask"]),
    ).last_hidden_state  # fmt: skip
    ids = torch.tensor([tokenizer.convert_tokens_to_ids(f"<loc_{k}>") for k in range(8)])
    target = batch["labels"][:, 1:]
    at = torch.isin(target, ids)
    assert int(at.sum()) == 4  # the box's four coordinates, x0 y0 x1 y1 = bins 1 2 5 7 of 8 on the 16 px canvas
    bins = (target[at][:, None] == ids).float().argmax(-1)
    assert bins.tolist() == [1, 2, 5, 7]
    expected = (head_model.location_head(hidden[:, :-1][at]) - (bins + 0.5) / 8).abs().mean()
    assert outs[0].location_loss.item() == pytest.approx(expected.item(), rel=1e-5)
    # no location in the answers: no location loss
    assert _fwd(head_model, _batch(processor, tmp_path, [], questions=2), return_logits=False).location_loss is None


def test_training_lowers_the_loss_and_the_head_is_saved(head_model, tokenizer, tmp_path):
    processor = VistaProcessor(tokenizer, head_model.config)
    batch = _batch(processor, tmp_path, [[2.0, 4.0, 10.0, 14.0], [0.0, 8.0, 6.0, 16.0]])
    opt = torch.optim.AdamW(head_model.location_head.parameters(), lr=1e-2)
    first = None
    for _ in range(30):
        out = _fwd(head_model.train(), batch, return_logits=False)
        first = first if first is not None else out.location_loss.item()
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    assert out.location_loss.item() < first * 0.5, (first, out.location_loss.item())
    head_model.save_pretrained(tmp_path / "ckpt", processor)
    loaded, _ = load_pretrained(tmp_path / "ckpt")
    assert loaded.config.lm.location_weight == 0.5
    for k, v in head_model.location_head.state_dict().items():
        assert torch.equal(loaded.location_head.state_dict()[k], v)


def test_engine_reads_the_bins_from_the_head(head_model, processor, tokenizer):
    model = head_model.double().eval()
    structure = [tokenizer.convert_tokens_to_ids(t) for t in ("<box>", "<mask>", "<poly>", "<point>")]
    with torch.no_grad():  # nudge the untrained LM to open location spans
        model.lm.get_output_embeddings().weight[structure] += model.lm.model.norm.weight * 3
    engine = Engine(model, VistaProcessor(tokenizer, model.config))
    prompts = [f"<image>\nWhere is object {k}?" for k in range(4)]
    images = [[image(12 + k, 16, k)] for k in range(4)]
    tokens = engine.generate(images, prompts, max_new_tokens=30, locations="tokens")
    by_tokens = {int(k) for k in re.findall(r"<loc_(\d+)>", "".join(r.text for r in tokens))}
    assert by_tokens  # the nudged model writes locations
    other = min(set(range(8)) - by_tokens)
    with torch.no_grad():  # the head now says the centre of a bin the LM never picked, whatever it reads
        last = model.location_head.mlp[-1]
        last.weight.zero_()
        last.bias.fill_(float(torch.logit(torch.tensor((other + 0.5) / 8))))
    head = engine.generate(images, prompts, max_new_tokens=30, locations="head")
    by_head = [int(k) for k in re.findall(r"<loc_(\d+)>", "".join(r.text for r in head))]
    assert by_head and set(by_head) == {other}
    # the LM still decides where locations go: the answers have the same shape, only the bins differ
    for a, b in zip(tokens, head):
        assert re.sub(r"<loc_\d+>", "L", a.text)[:20] == re.sub(r"<loc_\d+>", "L", b.text)[:20]
    with pytest.raises(ValueError, match="locations must be one of"):
        engine.generate(images, prompts, locations="both")


def test_head_readout_needs_the_head(model, processor):
    with pytest.raises(ValueError, match="needs a model trained with the location head"):
        Engine(model, processor).generate([[image(16, 16)]], ["<image>\nWhere?"], locations="head")


def test_token_loss_smooths_location_targets_only():
    from vistakit.model.location_head import bin_lookup, token_loss

    vocab, loc_ids = 12, torch.arange(4, 12)  # ids 4..11 are <loc_0>..<loc_7>
    bins_of = bin_lookup(loc_ids, vocab)
    scores = torch.randn(3, vocab)
    target = torch.tensor([1, 6, 9])  # a word, <loc_2>, <loc_5>
    plain = torch.nn.functional.cross_entropy(scores, target)
    assert token_loss(scores, target, bins_of, loc_ids, 0.0) == plain
    words = torch.tensor([1, 2])
    assert torch.allclose(token_loss(scores[:2], words, bins_of, loc_ids, 1.0), torch.nn.functional.cross_entropy(scores[:2], words))
    # a prediction that is the smoothed target itself costs nothing; mass one bin off costs less than four bins off
    q = (-0.5 * ((torch.arange(8.0) - 2) / 1.0) ** 2).softmax(-1)
    exact = torch.full((1, vocab), -1e4)
    exact[0, loc_ids] = q.log()
    assert token_loss(exact, torch.tensor([6]), bins_of, loc_ids, 1.0).item() == pytest.approx(0.0, abs=1e-5)

    def peaked(k):
        s = torch.full((1, vocab), -5.0)
        s[0, 4 + k] = 5.0
        return s

    near, far = (token_loss(peaked(k), torch.tensor([6]), bins_of, loc_ids, 1.0).item() for k in (3, 6))
    plain_near, plain_far = (token_loss(peaked(k), torch.tensor([6]), bins_of, loc_ids, 0.0).item() for k in (3, 6))
    assert 0 < near < far and plain_near == pytest.approx(plain_far)  # cross-entropy cannot tell them apart


def test_smoothed_location_loss_trains_through_the_model(tokenizer, tmp_path):
    torch.manual_seed(0)
    model = build_model(_config(location_sigma=1.0), tokenizer)
    processor = VistaProcessor(tokenizer, model.config)
    batch = _batch(processor, tmp_path, [[2.0, 4.0, 10.0, 14.0]], questions=1)
    outs = [_fwd(model, batch, return_logits=r, pack=p) for r in (False, True) for p in (False, True)]
    assert all(o.loss.item() == pytest.approx(outs[0].loss.item(), rel=1e-5) for o in outs)
    outs[0].loss.backward()
    assert model.lm.get_output_embeddings().weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="location_sigma must be a number of bins"):
        _config(location_sigma=-1.0)

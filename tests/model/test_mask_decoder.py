"""The super-link mask decoder: its targets sit at each answer's <mask> token and name the right image, its loss
agrees across forward paths, it learns a mask when trained alone, and the engine swaps its masks in for the
written polygons (falling back to them when they cannot be matched)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from vistakit.data.record import Record, Targets
from vistakit.geometry import Frame, ImageTransform, Mask, SoftMask
from vistakit.geometry.sequence import SequenceGrammar
from vistakit.model import Engine, ImageTokenizerConfig, VistaProcessor, build_model, load_pretrained
from vistakit.model.config import MaskDecoderConfig
from vistakit.model.engine import GenerationResult
from vistakit.tasks.base import with_decoded_masks
from vistakit.train.optim import apply_stage

from .conftest import tiny_config

KEYS = ("pixel_values", "image_to_sample", "input_ids", "attention_mask", "instruction_ids", "instruction_mask",
        "labels", "mask_positions", "mask_images", "mask_targets")  # fmt: skip


def _config(grounding: bool = False, **decoder):
    return tiny_config(
        mask_decoder=MaskDecoderConfig(**{"enabled": True, "dim": 8, **decoder}),
        image_tokenizer=ImageTokenizerConfig(kind="instruction", num_queries=4, depth=1, heads=2, dim=32,
                                             grounding=grounding),  # fmt: skip
    )


@pytest.fixture
def decoder_model(tokenizer):
    torch.manual_seed(0)
    return build_model(_config(), tokenizer)


def _square(x0: int, y0: int, x1: int, y1: int, size=(16, 16)) -> np.ndarray:
    m = np.zeros((size[1], size[0]), bool)
    m[y0:y1, x0:x1] = True
    return m


def _records(root, n_res: int = 1, attcoseg: bool = False, vqa: bool = False) -> list[Record]:
    for k, colour in enumerate([(200, 30, 30), (30, 30, 200), (30, 200, 30)]):
        img = np.full((16, 16, 3), 240, np.uint8)
        img[_square(2 + 2 * k, 4, 10 + 2 * k, 12)] = colour  # a coloured square, shifted per image
        Image.fromarray(img).save(root / f"{k}.png")
    recs = [Record(f"s{i}", "res", [f"{i % 3}.png"], [(16, 16)], "<image>\nSegment the blue square.",
                   targets=Targets(masks=[Mask(_square(2 + 2 * (i % 3), 4, 10 + 2 * (i % 3), 12)).to_rle()],
                                   labels=["blue square"]), root=root) for i in range(n_res)]  # fmt: skip
    if attcoseg:
        masks = [Mask(_square(2, 4, 10, 12)).to_rle(), Mask(_square(6, 4, 14, 12)).to_rle()]
        recs.append(Record("a", "attcoseg", ["1.png", "0.png", "2.png"], [(16, 16)] * 3,
                           "Image 1: <image>\nImage 2: <image>\nImage 3: <image>\nSegment the blue square.",
                           targets=Targets(masks=masks, image_ids=[0, 2]), root=root))  # fmt: skip
    if vqa:
        recs.append(Record("q", "vqa", ["0.png"], [(16, 16)], "<image>\nIs there a circle?", "no",
                           targets=Targets(answers=["no"]), root=root))  # fmt: skip
    return recs


def test_config_checks_the_decoder_settings():
    with pytest.raises(ValueError, match="mask_decoder.readout must be one of"):
        _config(readout="both")
    with pytest.raises(ValueError, match="mask_decoder.weight must be a number >= 0"):
        _config(weight=-1.0)
    with pytest.raises(ValueError, match="mask_decoder.dim must be a positive number"):
        _config(dim=0)


def test_targets_sit_at_each_mask_token_and_name_its_image(decoder_model, tokenizer, tmp_path):
    processor = VistaProcessor(tokenizer, decoder_model.config)
    batch = processor.from_records(_records(tmp_path, n_res=1, attcoseg=True, vqa=True))
    mask_id = tokenizer.convert_tokens_to_ids("<mask>")
    pos, imgs = batch["mask_positions"], batch["mask_images"]
    assert pos.shape == (3, 2) and imgs.tolist() == [0, 1, 3]  # RES: its image; AttCoSeg: images 0 and 2 of 1..3
    assert pos[:, 0].tolist() == [0, 1, 1]
    assert all(int(batch["input_ids"][r, c]) == mask_id for r, c in pos.tolist())
    assert all(int(batch["labels"][r, c]) == mask_id for r, c in pos.tolist())  # in the answer, not the prompt
    # each target is its polygon filled on the canvas: close to the true square (8 bins on 16 px are coarse)
    truth = [_square(2, 4, 10, 12), _square(2, 4, 10, 12), _square(6, 4, 14, 12)]
    for target, m in zip(batch["mask_targets"].bool().numpy(), truth):
        assert (target & m).sum() / (target | m).sum() > 0.6
    # no answer with a mask: no targets at all
    plain = processor.from_records(_records(tmp_path, n_res=0, vqa=True))
    assert "mask_positions" not in plain


def test_an_answer_cut_before_its_mask_gives_no_target(decoder_model, tokenizer, tmp_path):
    processor = VistaProcessor(tokenizer, decoder_model.config)
    recs = _records(tmp_path, n_res=1)
    full = processor.from_records(recs)
    at = int(full["mask_positions"][0, 1])
    assert "mask_positions" not in processor.from_records(recs, truncation=True, max_length=at)  # <mask> cut off
    kept = processor.from_records(recs, truncation=True, max_length=at + 3)  # its points cut, not the <mask>:
    assert kept["mask_positions"].tolist() == [[0, at]]  # its hidden state is there, its target known
    assert torch.equal(kept["mask_targets"], full["mask_targets"])


@pytest.mark.parametrize("grounding", [False, True])
def test_the_loss_agrees_across_forward_paths(tokenizer, tmp_path, grounding):
    torch.manual_seed(0)
    model = build_model(_config(grounding=grounding), tokenizer).eval()
    processor = VistaProcessor(tokenizer, model.config)
    batch = processor.from_records(_records(tmp_path, n_res=2, attcoseg=True, vqa=True))
    outs = [model(**{k: batch[k] for k in KEYS}, return_logits=r, pack=p) for r in (False, True) for p in (False, True)]
    for out in outs:
        assert out.mask_loss is not None and out.mask_loss.item() > 0
        assert out.mask_loss.item() == pytest.approx(outs[0].mask_loss.item(), rel=1e-4)
        assert out.loss.item() == pytest.approx(outs[0].loss.item(), rel=1e-4)
    without = model(**{k: batch[k] for k in KEYS[:7]}, return_logits=False)
    assert without.mask_loss is None
    weight = model.config.mask_decoder.weight
    assert outs[0].loss.item() == pytest.approx(without.loss.item() + weight * outs[0].mask_loss.item(), rel=1e-4)


def test_training_the_decoder_alone_paints_the_masks_and_leaves_the_rest(decoder_model, tokenizer, tmp_path):
    processor = VistaProcessor(tokenizer, decoder_model.config)
    batch = processor.from_records(_records(tmp_path, n_res=3))
    counts = apply_stage(decoder_model, "mask_decoder")
    assert counts["trainable"] == sum(p.numel() for p in decoder_model.mask_decoder.parameters())
    before = {k: v.clone() for k, v in decoder_model.state_dict().items() if not k.startswith("mask_decoder.")}
    opt = torch.optim.AdamW([p for p in decoder_model.parameters() if p.requires_grad], lr=1e-2)
    decoder_model.train()
    first = None
    for _ in range(80):
        out = decoder_model(**{k: batch[k] for k in KEYS}, return_logits=False)
        first = first if first is not None else out.mask_loss.item()
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    assert out.mask_loss.item() < first * 0.5, (first, out.mask_loss.item())
    after = decoder_model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in before.items())  # every other weight as it was
    # inference reads the same hidden states: paint_masks gives the masks the loss was computed on
    decoder_model.eval()
    probs = decoder_model.paint_masks(*(batch[k] for k in KEYS[:6]), batch["mask_positions"], batch["mask_images"])
    painted, target = probs > 0.5, batch["mask_targets"].bool()
    iou = ((painted & target).sum((1, 2)) / (painted | target).sum((1, 2))).tolist()
    assert min(iou) > 0.8, iou  # three images, the square in a different place in each
    # saved and loaded with the checkpoint
    decoder_model.save_pretrained(tmp_path / "ckpt", processor)
    loaded, _ = load_pretrained(tmp_path / "ckpt")
    assert loaded.config.mask_decoder.enabled
    for k, v in decoder_model.mask_decoder.state_dict().items():
        assert torch.equal(loaded.mask_decoder.state_dict()[k], v)


def test_the_stage_needs_the_decoder(model):
    with pytest.raises(ValueError, match="mask_decoder.enabled=true"):
        apply_stage(model, "mask_decoder")


def _answer_result(processor, rec, cut: int | None = None) -> GenerationResult:
    """The record's target answer as if the model had generated it (``cut``: only its first tokens)."""
    ids = processor.tokenizer(processor.answer_for(rec), add_special_tokens=False)["input_ids"][:cut]
    return GenerationResult(processor.decode(ids), list(ids))


def test_the_engine_swaps_painted_masks_in_for_the_polygons(decoder_model, tokenizer, tmp_path):
    model = decoder_model.eval()
    processor = VistaProcessor(tokenizer, model.config)
    recs = _records(tmp_path, n_res=1, attcoseg=True, vqa=True)
    engine = Engine(model, processor)
    batch = processor([r.image_paths() for r in recs], [r.prompt for r in recs], padding_side="left")
    results = [_answer_result(processor, r) for r in recs]
    with torch.no_grad():  # the decoder paints everything: the whole canvas
        model.mask_decoder.readout.weight.zero_()
        model.mask_decoder.readout.bias.fill_(5.0)
    painted = engine.paint_masks(batch, results)
    assert [None if p is None else len(p) for p in painted] == [1, 2, None]
    assert all(isinstance(m, SoftMask) and m.probs.shape == (16, 16) for m in painted[1])
    pred = processor.postprocess(results[1].text, "attcoseg", batch.image_sizes[1], painted=painted[1])
    assert pred.image_ids == [0, 2] and all(m.all() for m in pred.mask_arrays())  # the painted masks, not polygons
    written = processor.postprocess(results[1].text, "attcoseg", batch.image_sizes[1])
    assert not any(m.all() for m in written.mask_arrays())
    # an answer cut off inside its mask keeps what it wrote
    cut = _answer_result(processor, recs[0], cut=6)
    assert "<mask>" in cut.text and "</mask>" not in cut.text
    assert engine.paint_masks(batch, [cut, results[1], results[2]])[0] is None


def test_predict_reads_masks_from_the_decoder_or_the_points(decoder_model, model, tokenizer, tmp_path):
    recs = _records(tmp_path, n_res=2)
    engine = Engine(decoder_model.eval(), VistaProcessor(tokenizer, decoder_model.config))
    for masks in ("decoder", "points"):
        pairs = engine.predict_records(recs, max_new_tokens=8, masks=masks)
        assert len(pairs) == 2
    with pytest.raises(ValueError, match="masks must be one of"):
        engine.predict_records(recs, max_new_tokens=4, masks="both")
    plain = Engine(model, VistaProcessor(tokenizer, model.config))
    with pytest.raises(ValueError, match="needs a model trained with the mask decoder"):
        plain.predict_records(recs, max_new_tokens=4, masks="decoder")


def test_painted_regions_replace_mask_and_box_spans_in_order_or_not_at_all():
    grammar = SequenceGrammar(bins=8, mask_points=4)
    text = "<mask><poly><loc_1><loc_1><loc_6><loc_1><loc_6><loc_6></poly></mask><box><loc_0><loc_0><loc_2><loc_2></box>"
    res = grammar.decode(text)
    soft = SoftMask(np.ones((16, 16), np.float32))
    swapped = with_decoded_masks(res, [soft, None])  # the mask painted, the box kept
    assert swapped.spans[0].geometry is soft and swapped.spans[1] == res.spans[1] and not swapped.problems
    block = np.zeros((16, 16), np.float32)
    block[2:6, 4:12] = 0.9
    block[14, 14] = 0.9  # a stray pixel: the box is read from the largest region
    boxed = with_decoded_masks(res, [None, SoftMask(block)])
    assert boxed.spans[0] == res.spans[0]
    assert boxed.spans[1].geometry.xyxy().tolist() == [[0.25, 0.125, 0.75, 0.375]]  # normalised model frame
    assert with_decoded_masks(res, [None, SoftMask(np.zeros((16, 16), np.float32))]).spans == res.spans  # nothing painted
    assert with_decoded_masks(res, [None, None]).spans == res.spans
    kept = with_decoded_masks(res, [soft])
    assert kept.spans == res.spans and "kept the written ones" in kept.problems[-1]


def test_box_targets_are_rectangles_and_a_painted_box_reads_back(tokenizer, tmp_path):
    torch.manual_seed(0)
    model = build_model(_config(boxes=True), tokenizer).eval()
    processor = VistaProcessor(tokenizer, model.config)
    recs = _records(tmp_path, n_res=1)
    recs.append(Record("b", "rec", ["0.png"], [(16, 16)], "<image>\nWhere is the red square?",
                       targets=Targets(boxes=[[2.0, 4.0, 10.0, 12.0]], labels=["red square"]), root=tmp_path))  # fmt: skip
    batch = processor.from_records(recs)
    box_id = tokenizer.convert_tokens_to_ids("<box>")
    (r, c), target = batch["mask_positions"][1].tolist(), batch["mask_targets"][1].bool().numpy()
    assert r == 1 and int(batch["input_ids"][r, c]) == box_id
    assert target.sum() == target[5:13, 3:11].sum() == 64  # its rectangle between bin centres: 2 px bins, 3..11 px
    # masks only: the <box> gets no target
    assert len(VistaProcessor(tokenizer, _config()).from_records(recs)["mask_positions"]) == 1
    with torch.no_grad():  # the decoder paints the whole canvas: the box read back is the whole image
        model.mask_decoder.readout.weight.zero_()
        model.mask_decoder.readout.bias.fill_(5.0)
    pairs = Engine(model, processor).predict_records(recs[1:], max_new_tokens=4)
    assert len(pairs) == 1  # an untrained LM writes no box: nothing to paint, nothing breaks
    results = [_answer_result(processor, rec) for rec in recs]
    prompt_batch = processor([r.image_paths() for r in recs], [r.prompt for r in recs], padding_side="left")
    painted = Engine(model, processor).paint_masks(prompt_batch, results)
    pred = processor.postprocess(results[1].text, "rec", [(16, 16)], painted=painted[1])
    assert pred.boxes.tolist() == [[0.0, 0.0, 16.0, 16.0]]


def test_soft_masks_map_back_through_the_image_transform():
    # a 32×16 image on a 16 px canvas: content in the top 16×8, padding below
    t = ImageTransform.fit((32, 16), 16)
    probs = np.zeros((16, 16), np.float32)
    probs[0:4, 8:16] = 1.0  # the right half of the content's top half
    probs[8:, :] = 1.0  # padding: dropped
    out = t.soft_mask_to_original(SoftMask(probs))
    assert out.frame is Frame.ORIGINAL and out.array.shape == (16, 32)
    assert out.array[:8, 16:].mean() > 0.9 and out.array[:, :15].sum() == 0 and out.array[9:].sum() == 0
    with pytest.raises(ValueError, match="16x16 model-frame soft mask"):
        t.soft_mask_to_original(SoftMask(np.zeros((8, 8), np.float32)))
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        SoftMask(np.full((4, 4), 2.0, np.float32))
    assert dataclasses.is_dataclass(SoftMask)


def test_the_api_serves_the_painted_masks(decoder_model, tokenizer, tmp_path):
    from vistakit.api import Vista

    model = decoder_model.eval()
    processor = VistaProcessor(tokenizer, model.config)
    rec = _records(tmp_path, n_res=1)[0]
    answer = processor.answer_for(rec)

    class Scripted(Engine):  # writes the record's answer, so the decoder has a <mask> to paint
        def generate(self, images, prompts, visual_prompts=None, **gen):
            ids = processor.tokenizer(answer, add_special_tokens=False)["input_ids"]
            return [GenerationResult(processor.decode(ids), list(ids)) for _ in prompts]

    with torch.no_grad():  # the decoder paints the left half of the canvas
        model.mask_decoder.readout.weight.zero_()
        model.mask_decoder.readout.bias.fill_(-5.0)
    vista = Vista(Scripted(model, processor), "decoder")
    img = np.asarray(Image.open(tmp_path / "0.png"))
    assert not vista.predict(img, "Segment the blue square.", task="res").masks[0].array.any()  # painted: empty
    model.config.mask_decoder.readout = "points"
    written = vista.predict(img, "Segment the blue square.", task="res").masks[0].array
    assert written.sum() > 20  # the polygon the answer wrote


def test_prediction_files_carry_the_painted_masks(decoder_model, tokenizer, tmp_path):
    from vistakit.evaluation.runner import evaluate_records
    from vistakit.evaluation.score import prediction_from_json, read_predictions
    from vistakit.tasks import get_task

    model = decoder_model.eval()
    processor = VistaProcessor(tokenizer, model.config)
    recs = _records(tmp_path, n_res=2)

    class Scripted(Engine):  # writes the records' answers, so there are masks to paint
        def generate_batch(self, batch, **gen):
            return [_answer_result(processor, r) for r in recs[: len(batch["input_ids"])]]

    with torch.no_grad():  # the decoder paints the whole canvas
        model.mask_decoder.readout.weight.zero_()
        model.mask_decoder.readout.bias.fill_(5.0)
    report = evaluate_records(Scripted(model, processor), {"res": recs}, predictions_dir=tmp_path / "dec")
    line = read_predictions(tmp_path / "dec" / "res.jsonl")[recs[0].id]
    assert len(line["masks"]) == 1 and line["image_ids"] == [0]
    again = prediction_from_json(line, recs[0], get_task("res"), processor.grammar)
    assert again.mask_arrays()[0].all()  # re-read from the file: the painted mask, not the answer's polygon
    assert report.results["res"].metrics["ciou"] == pytest.approx(64 / 256)  # the 8 × 8 square in the whole image
    evaluate_records(Scripted(model, processor), {"res": recs}, predictions_dir=tmp_path / "pts", masks="points")
    assert "masks" not in read_predictions(tmp_path / "pts" / "res.jsonl")[recs[0].id]  # the answer holds them

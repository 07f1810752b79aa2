"""VistaProcessor: image fitting and its transforms, prompt expansion, padding and labels, records in and out."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from vistakit.data import Record, Targets, VisualPrompt
from vistakit.geometry import SequenceGrammar
from vistakit.model.processor import ANSWER_PREFIX, IGNORE_INDEX, to_rgb_array

from .conftest import image

Q = 4  # tokens per image of the test config


def test_images_are_fitted_top_left_and_normalised(processor):
    arr = np.full((8, 16, 3), 255, np.uint8)  # 16 wide, 8 high → 16×8 content on a 16×16 canvas
    px, t = processor.prepare_image(arr)
    assert px.shape == (3, 16, 16)
    assert t.original_size == (16, 8) and t.scale == 1.0 and t.offset == (0.0, 0.0)
    mean, std = np.asarray(processor.config.vision.image_mean), np.asarray(processor.config.vision.image_std)
    assert np.allclose(px[:, 0, 0].numpy(), (1 - mean) / std, atol=1e-5)  # content
    assert np.allclose(px[:, 15, 0].numpy(), (0 - mean) / std, atol=1e-5)  # padding at the bottom
    pil_px, _ = processor.prepare_image(Image.fromarray(arr))
    assert torch.equal(pil_px, px)
    with pytest.raises(TypeError, match="uint8"):
        processor.prepare_image(arr.astype(np.float32))
    with pytest.raises(FileNotFoundError, match="no image file"):
        processor.prepare_image("/nonexistent.png")


def test_prompt_expansion(processor):
    lm_text, instruction = processor.expand_prompt("Image 1: <image>\nImage 2: <image>\nSame?", [
        processor.prepare_image(image(16, 16))[1], processor.prepare_image(image(8, 4))[1]])  # fmt: skip
    pad = "<image_pad>" * Q
    assert lm_text == f"Image 1: <img_0>{pad}\nImage 2: <img_1>{pad}\nSame?"
    assert instruction == "Image 1: \nImage 2: \nSame?"


def test_regions_are_written_in_the_model_frame(processor):
    _, t = processor.prepare_image(image(32, 16))  # scale 0.5 onto the 16 px canvas
    vp = VisualPrompt("box", 0, box=[0.0, 0.0, 16.0, 8.0])
    lm_text, instruction = processor.expand_prompt("<image>\nWhat is at <region>?", [t], [vp])
    # normalised = original px / max(w, h) = (0, 0, 0.5, 0.25) → bins of 8: 0, 0, 4, 2
    box = "<box><loc_0><loc_0><loc_4><loc_2></box>"
    assert lm_text.endswith(f"What is at {box}?") and instruction == f"What is at {box}?"
    point = processor.expand_prompt("<image><region>", [t], [VisualPrompt("point", 0, point=[31.0, 15.0])])[0]
    assert point.endswith("<point><loc_7><loc_3></point>")
    with pytest.raises(ValueError, match=r"1 <region> placeholder\(s\) for 0 visual prompt"):
        processor.expand_prompt("<image>\n<region>", [t])
    with pytest.raises(ValueError, match="on image 1, but the sample has 1"):
        processor.expand_prompt("<image><region>", [t], [VisualPrompt("point", 1, point=[1.0, 1.0])])


def test_training_batch_is_right_padded_with_labels_on_answers_only(processor, tokenizer):
    answers = ["yes", "<p>circle</p><box><loc_1><loc_2><loc_3><loc_4></box>"]
    batch = processor([[image(16, 16)], [image(10, 20)]], ["<image>\nIs it red?", "<image>\nWhere?"], answers)
    ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
    assert ids.shape == mask.shape == labels.shape
    for i, answer in enumerate(answers):
        n = int(mask[i].sum())
        assert mask[i, :n].all() and not mask[i, n:].any()  # right padding
        assert ids[i, 0] == tokenizer.bos_token_id and ids[i, n - 1] == tokenizer.eos_token_id
        target = [x for x in labels[i].tolist() if x != IGNORE_INDEX]
        assert tokenizer.decode(target, skip_special_tokens=True) == answer
        assert target[-1] == tokenizer.eos_token_id
        assert (labels[i, n:] == IGNORE_INDEX).all()
        prompt_part = tokenizer.decode(ids[i, : n - len(target)].tolist())
        assert prompt_part.endswith(ANSWER_PREFIX)
    assert (ids == processor.image_pad_id).sum() == 2 * Q
    assert batch["image_to_sample"].tolist() == [0, 1]
    assert batch.image_sizes == [[(16, 16)], [(10, 20)]]
    assert batch["instruction_mask"].sum(1).tolist() == [
        len(tokenizer("Is it red?")["input_ids"]), len(tokenizer("Where?")["input_ids"])]  # fmt: skip


def test_generation_batch_is_left_padded(processor):
    batch = processor([[image(16, 16)], []], ["<image>\nA much longer question about the image?", "Draw a star."])
    mask = batch["attention_mask"]
    assert "labels" not in batch and mask[:, -1].all() and not mask[1, 0]
    assert batch["pixel_values"].shape == (1, 3, 16, 16) and batch["image_to_sample"].tolist() == [0]


def test_batch_errors(processor):
    with pytest.raises(ValueError, match=r"1 <image> placeholder\(s\) for 2 image"):
        processor([[image(4, 4), image(4, 4)]], ["<image> two?"])
    with pytest.raises(ValueError, match="at most 3"):
        processor([[image(4, 4)] * 4], ["<image>" * 4])
    with pytest.raises(ValueError, match="one of each per sample"):
        processor([[image(4, 4)]], ["<image>", "<image>"])
    with pytest.raises(TypeError, match="list of the sample's images"):
        processor([image(4, 4)], ["<image>"])
    long_answer = "<loc_1>" * 300
    with pytest.raises(ValueError, match="more than max_length 256"):
        processor([[image(4, 4)]], ["<image>"], [long_answer])
    cut = processor([[image(4, 4)]], ["<image>"], [long_answer], truncation=True)
    assert cut["input_ids"].shape[1] == 256


def test_answer_for_rebuilds_targets_at_model_bins_and_postprocess_maps_back(processor):
    rec = Record(id="r", task="rec", images=["a.png"], image_sizes=[(40, 20)], prompt="<image>\nWhere is it?",
                 answer="(stored at 1000 bins)", targets=Targets(boxes=[[10.0, 5.0, 30.0, 15.0]], labels=["it"])).validate()  # fmt: skip
    answer = processor.answer_for(rec)
    res = SequenceGrammar(8).decode(answer)
    assert res.problems == [] and len(res.of_kind("box")) == 1
    assert max(int(t[5:-1]) for t in answer.replace(">", "> ").split() if t.startswith("<loc_")) < 8
    pred = processor.postprocess(answer, "rec", rec.image_sizes)
    assert np.abs(pred.boxes[0] - [10, 5, 30, 15]).max() <= 40 / 8  # within one bin of the original box
    assert processor.postprocess("<box><loc_1>garbage", "rec", [(40, 20)]).problems  # never raises


def test_from_records_reads_images(processor, tmp_path):
    Image.fromarray(image(12, 10)).save(tmp_path / "a.png")
    rec = Record(id="r", task="vqa", images=["a.png"], image_sizes=[(12, 10)], prompt="<image>\nColour?",
                 answer="red", targets=Targets(answers=["red"])).validate()  # fmt: skip
    rec.root = tmp_path
    batch = processor.from_records([rec])
    assert batch.image_sizes == [[(12, 10)]] and (batch["labels"] != IGNORE_INDEX).sum() == len(
        processor.tokenizer("red")["input_ids"]) + 1  # fmt: skip


@pytest.mark.parametrize("orientation, shape", [(1, (10, 30, 3)), (3, (10, 30, 3)), (6, (30, 10, 3)), (8, (30, 10, 3))])
def test_to_rgb_array_turns_files_and_pil_images_upright_by_their_exif_orientation(tmp_path, orientation, shape):
    stored = np.zeros((10, 30, 3), np.uint8)
    stored[:, :10] = 255  # a white left third shows where the image was turned
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "photo.jpg"
    Image.fromarray(stored).save(path, exif=exif.tobytes(), quality=95)
    arr = to_rgb_array(path)
    assert arr.shape == shape
    with Image.open(path) as im:
        np.testing.assert_array_equal(arr, np.asarray(ImageOps.exif_transpose(im).convert("RGB")))
        np.testing.assert_array_equal(to_rgb_array(im), arr)
    white = {1: arr[:, :5], 3: arr[:, -5:], 6: arr[:5], 8: arr[-5:]}[orientation]  # where the left third went
    assert white.mean() > 200 and arr.mean() < 120
    np.testing.assert_array_equal(to_rgb_array(stored), stored)  # arrays carry no tag: taken as they are

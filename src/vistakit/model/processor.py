"""VistaProcessor: images + prompts (+ answers) → model inputs, and model text → typed predictions.

Images: each is resized (longer side) and padded bottom/right onto the ``canvas`` with
``ImageTransform.fit((w, h), canvas)``, so a normalised model coordinate equals ``original px / max(w, h)``:
the same convention as the records' answers. Each transform is kept on the batch (``batch.transforms``).

Prompt text: the k-th ``<image>`` becomes ``<img_k>`` followed by ``T_img`` ``<image_pad>`` slots; each
``<region>`` becomes its visual prompt written in the grammar in the model frame (``<box>…</box>``,
``<point>…</point>`` or ``<mask>…</mask>``, prefixed by ``<img_k>`` when the sample shows several images).
The LM sequence is ``<s> prompt ANSWER_PREFIX answer </s>``; ``instruction_ids`` are the prompt without image
slots (what the instruction-guided image tokenizer reads).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..data.images import to_rgb_array  # noqa: F401  (the shared image loader; imported from here too)
from ..data.record import IMAGE_PLACEHOLDER, REGION_PLACEHOLDER, Record, VisualPrompt
from ..geometry import Boxes, ImageTransform, Mask, Points, SequenceGrammar
from ..tasks import Prediction, get_task
from .attributes import attribute_targets
from .config import ModelConfig, read_config
from .grounding import anchor_targets, grounding_targets, relation_targets
from .mask_decoder import mask_targets, painted_kinds
from .region_text import region_text_targets
from .text_tokenizer import IGNORE_INDEX, IMAGE_PAD, load_tokenizer

ImageLike = Image.Image | np.ndarray | str | Path
ANSWER_PREFIX = "\nAnswer:"
MODEL_INPUTS = ("pixel_values", "image_to_sample", "input_ids", "attention_mask", "instruction_ids", "instruction_mask")


class VistaBatch(dict):
    """The model inputs as a dict (``model(**batch)``; ``labels`` too when answers were given), plus per-sample
    ``transforms`` (one :class:`ImageTransform` per image) and ``image_sizes`` ((W, H) per image, original)."""

    def __init__(self, tensors: dict[str, torch.Tensor], transforms: list[list[ImageTransform]]) -> None:
        super().__init__(tensors)
        self.transforms = transforms

    @property
    def image_sizes(self) -> list[list[tuple[int, int]]]:
        return [[t.original_size for t in ts] for ts in self.transforms]

    def to(self, device: str | torch.device) -> VistaBatch:
        return VistaBatch({k: v.to(device) for k, v in self.items()}, self.transforms)


class VistaProcessor:
    """Tokenizer + image preparation + answer grammar of one model configuration."""

    def __init__(self, tokenizer: Any, config: ModelConfig) -> None:
        self.tokenizer = tokenizer
        self.config = config
        self.grammar = SequenceGrammar(config.bins, config.mask_points, config.sampler)
        self.tokens_per_image = config.tokens_per_image
        self.image_pad_id = int(tokenizer.convert_tokens_to_ids(IMAGE_PAD))
        for name in ("bos_token_id", "eos_token_id", "pad_token_id"):
            if getattr(tokenizer, name) is None:
                raise ValueError(
                    f"the tokenizer has no {name[:-9]} token; build it with train_tokenizer / add_vista_tokens"
                )
        self._mean = np.asarray(config.vision.image_mean, np.float32) * 255
        self._std = np.asarray(config.vision.image_std, np.float32) * 255

    @classmethod
    def from_pretrained(cls, path: str | Path) -> VistaProcessor:
        """The processor of a checkpoint directory (its tokenizer files and ``config.json``)."""
        return cls(load_tokenizer(path), read_config(path))

    # --- images --------------------------------------------------------------------------------------------
    def prepare_image(self, image: ImageLike, where: str = "image") -> tuple[torch.Tensor, ImageTransform]:
        """One image → normalised FloatTensor [3, S, S] on the canvas (model frame) and its transform."""
        arr = to_rgb_array(image, where)
        h, w = arr.shape[:2]
        t = ImageTransform.fit((w, h), self.config.canvas)
        canvas = t.image_to_model(arr).astype(np.float32)
        return torch.from_numpy(((canvas - self._mean) / self._std).transpose(2, 0, 1).copy()), t

    # --- prompts -------------------------------------------------------------------------------------------
    def expand_prompt(
        self,
        prompt: str,
        transforms: Sequence[ImageTransform],
        visual_prompts: Sequence[VisualPrompt] = (),
        where: str = "prompt",
    ) -> tuple[str, str]:
        """(LM text with image slots, instruction text without them) for one sample."""
        if not isinstance(prompt, str):
            raise TypeError(f"{where} must be a string, got {type(prompt).__name__}")
        n_img, n_reg = prompt.count(IMAGE_PLACEHOLDER), prompt.count(REGION_PLACEHOLDER)
        if n_img != len(transforms):
            raise ValueError(f"{where} has {n_img} {IMAGE_PLACEHOLDER} placeholder(s) for {len(transforms)} image(s); "
                             f"expected one per image")  # fmt: skip
        if n_reg != len(visual_prompts):
            raise ValueError(f"{where} has {n_reg} {REGION_PLACEHOLDER} placeholder(s) for {len(visual_prompts)} "
                             f"visual prompt(s); expected one per visual prompt")  # fmt: skip
        pieces = prompt.split(REGION_PLACEHOLDER)
        regions = [
            self.encode_region(vp, transforms, f"{where} visual prompt {i}") for i, vp in enumerate(visual_prompts)
        ]
        text = pieces[0] + "".join(r + p for r, p in zip(regions, pieces[1:]))
        parts = text.split(IMAGE_PLACEHOLDER)
        slots = IMAGE_PAD * self.tokens_per_image
        lm_text = parts[0] + "".join(f"{SequenceGrammar.encode_image(k)}{slots}{p}" for k, p in enumerate(parts[1:]))
        return lm_text, "".join(parts).strip()

    def encode_region(
        self, vp: VisualPrompt, transforms: Sequence[ImageTransform], where: str = "visual prompt"
    ) -> str:
        """A visual prompt (original pixels of image ``vp.image``) → grammar text in the model frame."""
        if not 0 <= vp.image < len(transforms):
            raise ValueError(f"{where} is on image {vp.image}, but the sample has {len(transforms)} image(s)")
        t = transforms[vp.image]
        head = SequenceGrammar.encode_image(vp.image) if len(transforms) > 1 else ""
        if vp.type == "box" and vp.box is not None:
            return head + self.grammar.encode_boxes(t.to_model(Boxes([vp.box], t.original_space).clip()))
        if vp.type == "point" and vp.point is not None:
            xy = np.clip(np.asarray(vp.point, np.float64), 0, t.original_size)
            return head + self.grammar.encode_points(t.to_model(Points([xy], t.original_space)))
        if vp.type == "mask" and vp.mask is not None:
            return head + self.grammar.encode_mask(Mask.from_rle(vp.mask), t)
        raise ValueError(f"{where} of type {vp.type!r} has no {vp.type} value")

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"] if text else []

    # --- batches -------------------------------------------------------------------------------------------
    def __call__(
        self,
        images: Sequence[Sequence[ImageLike]],
        prompts: Sequence[str],
        answers: Sequence[str] | None = None,
        visual_prompts: Sequence[Sequence[VisualPrompt]] | None = None,
        padding_side: str | None = None,
        max_length: int | None = None,
        truncation: bool = False,
    ) -> VistaBatch:
        """A batch of B samples: ``images[b]`` the sample's images (0..max_images), ``prompts[b]`` with one
        ``<image>`` per image, optional ``answers[b]`` (grammar text) and ``visual_prompts[b]``.

        Padding is right with answers (training), left without (generation) unless ``padding_side`` says.
        ``labels`` (with answers) are -100 on the prompt and padding. Sequences longer than ``max_length``
        (default ``lm.max_positions``) raise, or with ``truncation`` lose the end of their answer.
        """
        b = len(prompts)
        if isinstance(prompts, str) or b == 0:
            raise ValueError("prompts must be a non-empty list of strings (one per sample)")
        if len(images) != b or (answers is not None and len(answers) != b):
            raise ValueError(f"got {b} prompts, {len(images)} image lists and "
                             f"{'no' if answers is None else len(answers)} answers; expected one of each per sample")  # fmt: skip
        if visual_prompts is not None and len(visual_prompts) != b:
            raise ValueError(f"got {len(visual_prompts)} visual-prompt lists for {b} prompts")
        side = padding_side or ("right" if answers is not None else "left")
        if side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {side!r}")
        max_length = max_length or self.config.lm.max_positions
        pixels, owner, transforms, seqs, labels, instr = [], [], [], [], [], []
        for i in range(b):
            if isinstance(images[i], (Image.Image, np.ndarray, str, Path)):
                raise TypeError(
                    f"images[{i}] must be a list of the sample's images, got a single {type(images[i]).__name__}"
                )
            if len(images[i]) > self.config.max_images:
                raise ValueError(
                    f"sample {i} has {len(images[i])} images; this model takes at most {self.config.max_images}"
                )
            ts = []
            for k, im in enumerate(images[i]):
                px, t = self.prepare_image(im, f"sample {i} image {k}")
                pixels.append(px), owner.append(i), ts.append(t)
            transforms.append(ts)
            lm_text, instruction = self.expand_prompt(prompts[i], ts, (visual_prompts or [()] * b)[i], f"prompt {i}")
            prompt_ids = [self.tokenizer.bos_token_id] + self._ids(lm_text + ANSWER_PREFIX)
            answer_ids = [] if answers is None else self._ids(answers[i]) + [self.tokenizer.eos_token_id]
            if len(prompt_ids) + len(answer_ids) > max_length:
                if not truncation or len(prompt_ids) >= max_length:
                    raise ValueError(f"sample {i} has {len(prompt_ids) + len(answer_ids)} tokens (prompt {len(prompt_ids)}), "
                                     f"more than max_length {max_length}; shorten it or pass truncation=True")  # fmt: skip
                answer_ids = answer_ids[: max_length - len(prompt_ids)]
            seqs.append(prompt_ids + answer_ids)
            labels.append([IGNORE_INDEX] * len(prompt_ids) + answer_ids)
            instr.append(self._ids(instruction))
        input_ids, attention_mask = _pad(seqs, self.tokenizer.pad_token_id, side)
        instruction_ids, instruction_mask = _pad(instr, self.tokenizer.pad_token_id, "right", min_len=1)
        s = self.config.canvas
        tensors = {
            "pixel_values": torch.stack(pixels) if pixels else torch.zeros(0, 3, s, s),
            "image_to_sample": torch.tensor(owner, dtype=torch.long),
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "instruction_ids": instruction_ids,
            "instruction_mask": instruction_mask,
        }
        if answers is not None:
            tensors["labels"] = _pad(labels, IGNORE_INDEX, side)[0]
        return VistaBatch(tensors, transforms)

    # --- records ------------------------------------------------------------------------------------------
    def answer_for(self, record: Record) -> str:
        """The record's target text rebuilt at this model's bins / mask_points / sampler (records store answers
        at 1000 bins) from ``record.targets`` (original pixels)."""
        return get_task(record.task).build_answer(record.targets, record.image_sizes, self.grammar)

    def from_records(self, records: Iterable[Record], with_answers: bool = True, **kwargs: Any) -> VistaBatch:
        """A batch from records: images read from ``record.image_paths()``, prompts, visual prompts and (with
        answers) :meth:`answer_for` targets — and, for a model with a grounding tokenizer, the per-patch
        ``grounding`` targets of its loss, and with ``vision.region_text_weight > 0`` the ``region_*`` targets of
        the tower's region–text loss, and with ``vision.attribute_weight > 0`` the per-patch ``attribute_targets``,
        and with ``mask_decoder.enabled`` the super-link decoder's ``mask_*`` targets.
        ``kwargs`` go to :meth:`__call__`."""
        records = list(records)
        answers = [self.answer_for(rec) for rec in records] if with_answers else None
        batch = self(
            [rec.image_paths() for rec in records],
            [rec.prompt for rec in records],
            answers,
            [rec.visual_prompts for rec in records],
            **kwargs,
        )
        if with_answers and self.config.image_tokenizer.grounding:
            batch["grounding"] = grounding_targets(records, batch.transforms, self.config.relevance_grid,
                                                   self.config.image_tokenizer.referents)
            if self.config.image_tokenizer.relations:
                batch["anchor_grounding"] = anchor_targets(records, batch.transforms, self.config.relevance_grid)
                batch["relation_labels"] = relation_targets(records, [len(t) for t in batch.transforms])
        if with_answers and self.config.vision.region_text_weight > 0:
            grid = math.isqrt(self.config.vision.num_patches)
            regions = region_text_targets(records, batch.transforms, grid, self._ids, self.tokenizer.pad_token_id)
            batch.update(regions or {})
        if with_answers and self.config.vision.attribute_weight > 0 and self.config.vision.attribute_words:
            grid = math.isqrt(self.config.vision.num_patches)
            v = self.config.vision
            batch["attribute_targets"] = attribute_targets(records, batch.transforms, grid, v.attribute_words,
                                                           scene=v.attribute_instances == "scene")  # fmt: skip
        if with_answers and self.config.mask_decoder.enabled:
            masks = mask_targets(answers, self.grammar, batch["input_ids"], batch["labels"], self.span_openers(),
                                 batch["image_to_sample"], self.config.canvas,
                                 painted_kinds(self.config.mask_decoder.boxes))  # fmt: skip
            batch.update(masks or {})
        return batch

    def span_openers(self) -> dict[str, int]:
        """The token ids that open a mask and a box span: ``{"mask": id of <mask>, "box": id of <box>}``."""
        return {k: int(self.tokenizer.convert_tokens_to_ids(f"<{k}>")) for k in ("mask", "box")}

    # --- outputs -------------------------------------------------------------------------------------------
    def decode(self, ids: Sequence[int]) -> str:
        """Generated token ids → answer text (special tokens such as ``</s>`` dropped, grammar tokens kept)."""
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    def postprocess(
        self, text: str, task: str, image_sizes: Sequence[tuple[int, int]], painted: Sequence[Any] | None = None
    ) -> Prediction:
        """Answer text → the task's :class:`Prediction` in original pixels. Never raises on the text.
        ``painted``: the super-link decoder's :class:`~vistakit.geometry.SoftMask` per ``<mask>`` / ``<box>`` span
        (see :meth:`Task.parse`)."""
        return get_task(task).parse(text, image_sizes, self.grammar, painted=painted)


def _pad(seqs: list[list[int]], value: int, side: str, min_len: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad lists of ids to one length: (ids LongTensor [B, T], mask LongTensor [B, T] with 1 on real tokens)."""
    t = max(min_len, max((len(s) for s in seqs), default=0))
    ids = torch.full((len(seqs), t), value, dtype=torch.long)
    mask = torch.zeros((len(seqs), t), dtype=torch.long)
    for i, s in enumerate(seqs):
        if s:
            sl = slice(t - len(s), t) if side == "left" else slice(0, len(s))
            ids[i, sl] = torch.tensor(s, dtype=torch.long)
            mask[i, sl] = 1
    return ids, mask

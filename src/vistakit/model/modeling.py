"""VistaModel: vision tower → image tokenizer → language model, composed from injected parts (SAM style).

Sequence layout: each image occupies ``T_img`` consecutive ``<image_pad>`` slots in ``input_ids`` (the processor
writes ``<img_k>`` then the slots for each ``<image>`` in the prompt). :meth:`VistaModel.embed` replaces the
embeddings at those slots, in row-major order, by each image's tokens; images are therefore ordered by sample,
then by slot order within a sample (``image_to_sample`` is non-decreasing).

Checkpoints are a directory: ``config.json`` (the :class:`ModelConfig`, including the HF configs of pretrained
parts), ``model.safetensors`` and the tokenizer files. Loading is offline and never unpickles.
"""

from __future__ import annotations

import copy
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_model, save_model
from torch import nn

from . import lora
from .attributes import AttributeHeads, load_vocab
from .config import CONFIG_FILE, ModelConfig, read_config
from .grounding import anchor_loss, grounding_loss, location_embeddings, relation_loss
from .image_tokenizer import ImageTokens, build_image_tokenizer
from .language import build_language_model, cache_argument, returned_cache
from .location_head import LocationHead, bin_lookup, location_loss, token_loss
from .mask_decoder import MaskDecoder, mask_loss
from .packing import plan_packing
from .region_text import RegionTextHead
from .text_tokenizer import IGNORE_INDEX, IMAGE_PAD, check_tokenizer
from .vision import build_vision

WEIGHTS_FILE = "model.safetensors"
PACK_BELOW = 0.8  # pack when under 80% of the [B, T] positions are real tokens
# Files a checkpoint directory may hold: save_pretrained refuses to replace a folder holding anything else.
_CHECKPOINT_FILES = (CONFIG_FILE, WEIGHTS_FILE, "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                     "added_tokens.json", "chat_template.jinja", "tokenizer.model", "vocab.json", "merges.txt", "lora")  # fmt: skip


@dataclass
class VistaOutput:
    """``loss``: mean next-token cross-entropy over label positions != -100 (``None`` without labels), plus
    ``image_tokenizer.grounding_weight`` × ``grounding_loss`` when grounding targets were given and
    ``vision.region_text_weight`` × ``region_text_loss`` when region–text targets were given;
    ``logits`` FloatTensor [B, T, V] (``None`` from ``forward(..., return_logits=False)``);
    ``past_key_values``: the LM cache when ``use_cache``;
    ``grounding_loss``: the image tokenizer's relevance-map loss (:mod:`.grounding`) or ``None``;
    ``anchor_loss`` / ``relation_loss``: its relation term's anchor-map BCE and relation cross-entropy
    (``image_tokenizer.relations``) or ``None`` (each included in ``loss`` × ``image_tokenizer.grounding_weight``);
    ``region_text_loss``: the tower's region–text alignment loss (:mod:`.region_text`) or ``None``;
    ``attribute_loss``: the tower's per-patch attribute-word loss (:mod:`.attributes`) or ``None`` (included in
    ``loss`` × ``vision.attribute_weight``);
    ``location_loss``: the location head's L1 loss on the answer's ``<loc_k>`` tokens (:mod:`.location_head`) or
    ``None`` (included in ``loss`` × ``lm.location_weight``);
    ``mask_loss``: the mask decoder's BCE + Dice loss (:mod:`.mask_decoder`) or ``None`` (included in ``loss`` ×
    ``mask_decoder.weight``);
    ``hidden``: the LM's last hidden states [B, T, H] where asked for (generation with the location head)."""

    loss: torch.Tensor | None
    logits: torch.Tensor | None
    past_key_values: Any = None
    grounding_loss: torch.Tensor | None = None
    region_text_loss: torch.Tensor | None = None
    attribute_loss: torch.Tensor | None = None
    location_loss: torch.Tensor | None = None
    hidden: torch.Tensor | None = None
    mask_loss: torch.Tensor | None = None
    anchor_loss: torch.Tensor | None = None
    relation_loss: torch.Tensor | None = None


class VistaModel(nn.Module):
    """The model. ``config.image_pad_id`` (the ``<image_pad>`` token id) must be set (see :func:`build_model`)."""

    def __init__(self, config: ModelConfig, vision: nn.Module, image_tokenizer: nn.Module, lm: nn.Module) -> None:
        super().__init__()
        config.validate()
        if config.image_pad_id < 0 or config.lm.vocab_size <= 0:
            raise ValueError(
                "config.image_pad_id / lm.vocab_size are unset; build the model with build_model(config, tokenizer)"
            )
        self.config = config
        self.vision = vision
        self.image_tokenizer = image_tokenizer
        self.lm = lm
        # with vision.instruction_film: the instruction's mean (normalised) word embedding → the tower's condition
        self.instruction_pool = (
            nn.Sequential(nn.LayerNorm(config.lm.hidden), nn.Linear(config.lm.hidden, config.vision.dim))
            if config.vision.instruction_film else None
        )  # fmt: skip
        # with vision.instruction_cross_attention: every instruction word (normalised) at the tower's width
        self.instruction_words = (
            nn.Sequential(nn.LayerNorm(config.lm.hidden), nn.Linear(config.lm.hidden, config.vision.dim))
            if config.vision.instruction_cross_attention else None
        )  # fmt: skip
        # with vision.region_text_weight > 0: the auxiliary region–text alignment head (training only)
        self.region_text = (
            RegionTextHead(config.vision.dim, config.lm.hidden) if config.vision.region_text_weight > 0 else None
        )
        # with vision.attribute_weight > 0: per-patch attribute-word heads (training only)
        self.attributes = None
        if config.vision.attribute_weight > 0:
            if config.vision.attribute_words is None:  # resolved once, stored in the config (and config.json)
                vocab = load_vocab(config.vision.attribute_vocab, "vision.attribute_vocab")
                config.vision.attribute_words = {g: list(words) for g, words in vocab.items()}
            self.attributes = AttributeHeads(config.vision.dim, config.vision.attribute_words)
        # with lm.location_weight > 0: the location head (PixelLLM) on the LM's hidden states
        self.location_head = LocationHead(config.lm.hidden) if config.lm.location_weight > 0 else None
        # with mask_decoder.enabled: the super-link mask decoder on the hidden state of each <mask> (VisionLLM v2)
        md = config.mask_decoder
        self.mask_decoder = MaskDecoder(config.lm.hidden, config.vision.dim, md.dim) if md.enabled else None
        if needs_loc_ids(config):  # the <loc_k> token ids in bin order (saved with the weights)
            self.register_buffer("loc_token_ids", torch.zeros(config.bins, dtype=torch.long))
        self._choose_attention()

    def _choose_attention(self) -> None:
        """Set the LM's attention kernel from ``config.lm.attention`` for the device the model is on."""
        want = self.config.lm.attention
        if want == "auto":  # eager: CPU float32 / bf16 only (transformers' eager mask gives NaN rows in float64)
            p = next(self.lm.parameters())
            want = "eager" if p.device.type == "cpu" and p.dtype != torch.float64 else "sdpa"
        if getattr(self.lm.config, "_attn_implementation", None) != want:
            self.lm.set_attn_implementation(want)

    def _apply(self, fn: Any, recurse: bool = True) -> VistaModel:  # .to() / .cuda() / .cpu() all come here
        out = super()._apply(fn, recurse)
        self._choose_attention()
        return out

    def compile_units(self) -> dict[str, nn.Module]:
        """The parts that training's ``compile=true`` compiles whole (:mod:`vistakit.train.compile`): the tower, the
        image tokenizer and the language model's decoder body — the modules :meth:`forward` calls as they are
        (the LM's output head and the smaller heads stay eager: the model calls them selectively)."""
        return {"vision": self.vision, "image_tokenizer": self.image_tokenizer, "lm": self.lm.base_model}

    @property
    def tokens_per_image(self) -> int:
        return self.config.tokens_per_image

    # --- embedding ---------------------------------------------------------------------------------------------
    def encode_images(
        self,
        pixel_values: torch.Tensor,
        image_to_sample: torch.Tensor,
        instruction_ids: torch.Tensor,
        instruction_mask: torch.Tensor,
    ) -> ImageTokens:
        """Images ``[N_img, 3, S, S]`` (+ their samples' instructions ``[B, L]``) → ``ImageTokens``: ``tokens``
        ``[N_img, T_img, H]``, the tower's patch ``features`` ``[N_img, P, D]`` and, for a grounding tokenizer,
        per-patch ``relevance`` logits ``[N_img, K, R]`` (``K = image_tokenizer.referents``; ``R =
        config.relevance_grid²`` = ``P``).
        With ``where_tokens`` the next 4 tokens of each image are its relevance box written as ``<loc_k>``
        embeddings (:func:`.grounding.location_embeddings`); with ``what_token`` one token of the features under
        the relevance map follows; with K referents, K such groups in order; with ``anchor_tokens`` the relation
        anchor's box as 4 more (then with ``anchor_what`` its what token, with ``comparison_token`` one token of
        the two boxes' offset)."""
        embed = self.lm.get_input_embeddings()
        instruction = embed(instruction_ids)[image_to_sample]
        mask = instruction_mask.bool()[image_to_sample]
        dtype = next(self.vision.parameters()).dtype
        conditions = {}
        if self.instruction_pool is not None:
            words = self.instruction_pool[0](instruction)
            m = mask[..., None].to(words.dtype)
            pooled = (words * m).sum(1) / m.sum(1).clamp(min=1)
            conditions["condition"] = self.instruction_pool[1](pooled)
        if self.instruction_words is not None:
            conditions.update(words=self.instruction_words(instruction), words_mask=mask)
        patches = self.vision(pixel_values.to(dtype), **conditions)
        out = self.image_tokenizer(patches, instruction.to(patches.dtype), mask)
        out = out._replace(features=patches)
        if out.box is None:
            return out
        n, k, _ = out.box.shape
        where = location_embeddings(out.box.reshape(n, 4 * k), embed.weight[self.loc_token_ids]).view(n, k, 4, -1)
        if out.what is not None:  # each referent: its 4 where tokens, then its what token
            where = torch.cat([where, out.what[:, :, None].to(where.dtype)], 2)
        parts = [out.tokens, where.flatten(1, 2).to(out.tokens.dtype)]
        if out.anchor_box is not None:
            parts.append(location_embeddings(out.anchor_box, embed.weight[self.loc_token_ids]).to(out.tokens.dtype))
        if out.anchor_what is not None:
            parts.append(out.anchor_what[:, None].to(out.tokens.dtype))
        if out.comparison is not None:
            parts.append(out.comparison[:, None].to(out.tokens.dtype))
        return out._replace(tokens=torch.cat(parts, 1))

    def plain_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """The tower's patch features ``[N, P, D]`` for no instruction (an instruction-conditioned tower gets a zero
        condition and no words), as :mod:`.region_text` needs them."""
        n, dim = len(pixel_values), self.config.vision.dim
        dtype = next(self.vision.parameters()).dtype
        conditions: dict[str, torch.Tensor] = {}
        if self.instruction_pool is not None:
            conditions["condition"] = pixel_values.new_zeros(n, dim, dtype=dtype)
        if self.instruction_words is not None:
            conditions.update(words=pixel_values.new_zeros(n, 1, dim, dtype=dtype),
                              words_mask=torch.zeros(n, 1, dtype=torch.bool, device=pixel_values.device))  # fmt: skip
        return self.vision(pixel_values.to(dtype), **conditions)

    def embed(
        self,
        pixel_values: torch.Tensor,
        image_to_sample: torch.Tensor,
        input_ids: torch.Tensor,
        instruction_ids: torch.Tensor,
        instruction_mask: torch.Tensor,
    ) -> torch.Tensor:
        """``inputs_embeds`` [B, T, H]: token embeddings with the ``<image_pad>`` slots filled by image tokens."""
        return self._embed(pixel_values, image_to_sample, input_ids, instruction_ids, instruction_mask)[0]

    def _embed(
        self,
        pixel_values: torch.Tensor,
        image_to_sample: torch.Tensor,
        input_ids: torch.Tensor,
        instruction_ids: torch.Tensor,
        instruction_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, ImageTokens | None]:
        """(:meth:`embed`'s ``inputs_embeds``, the images' :class:`ImageTokens` or ``None`` without images)."""
        b = input_ids.shape[0]
        n_img = pixel_values.shape[0]
        if image_to_sample.shape != (n_img,):
            raise ValueError(f"image_to_sample must be [N_img] = [{n_img}], got {list(image_to_sample.shape)}")
        if instruction_ids.shape[0] != b or instruction_mask.shape != instruction_ids.shape:
            raise ValueError(f"instruction_ids / instruction_mask must be [B={b}, L] each, got "
                             f"{list(instruction_ids.shape)} / {list(instruction_mask.shape)}")  # fmt: skip
        slots = input_ids == self.config.image_pad_id
        per_row = slots.sum(1)
        if n_img:
            if int(image_to_sample.min()) < 0 or int(image_to_sample.max()) >= b:
                raise ValueError(
                    f"image_to_sample values must be sample indices in 0..{b - 1}, got {image_to_sample.tolist()}"
                )
            if bool((image_to_sample[1:] < image_to_sample[:-1]).any()):
                raise ValueError(
                    f"images must be ordered by sample (image_to_sample non-decreasing), got {image_to_sample.tolist()}"
                )
        expected = torch.bincount(image_to_sample, minlength=b)[:b] * self.tokens_per_image
        if not torch.equal(per_row, expected.to(per_row.device)):
            bad = int((per_row != expected.to(per_row.device)).nonzero()[0, 0])
            raise ValueError(
                f"sample {bad} has {int(per_row[bad])} <image_pad> slots but {int(expected[bad]) // self.tokens_per_image} "
                f"image(s) × {self.tokens_per_image} tokens = {int(expected[bad])}; write one <image> per image in the prompt"
            )
        embeds = self.lm.get_input_embeddings()(input_ids)
        images = None
        if n_img:
            images = self.encode_images(pixel_values, image_to_sample, instruction_ids, instruction_mask)
            flat = images.tokens.to(embeds.dtype).reshape(-1, embeds.shape[-1])
            at = slots.reshape(-1).nonzero().squeeze(1)  # the slots in row-major order (masked_scatter's order)
            embeds = embeds.reshape(-1, embeds.shape[-1]).index_copy(0, at, flat).view(embeds.shape)
        return embeds, images

    @staticmethod
    def position_ids(attention_mask: torch.Tensor) -> torch.Tensor:
        """Positions counting only attended tokens, so left padding does not shift them: [B, T]."""
        return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)

    # --- forward -----------------------------------------------------------------------------------------------
    def forward(
        self,
        pixel_values: torch.Tensor,
        image_to_sample: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        instruction_ids: torch.Tensor,
        instruction_mask: torch.Tensor,
        labels: torch.Tensor | None = None,
        use_cache: bool = False,
        pack: bool | None = None,
        grounding: torch.Tensor | None = None,
        anchor_grounding: torch.Tensor | None = None,
        relation_labels: torch.Tensor | None = None,
        return_logits: bool = True,
        region_weights: torch.Tensor | None = None,
        region_image: torch.Tensor | None = None,
        region_text_ids: torch.Tensor | None = None,
        region_text_mask: torch.Tensor | None = None,
        region_group: torch.Tensor | None = None,
        attribute_targets: torch.Tensor | None = None,
        mask_positions: torch.Tensor | None = None,
        mask_images: torch.Tensor | None = None,
        mask_targets: torch.Tensor | None = None,
    ) -> VistaOutput:
        """``pixel_values`` FloatTensor [N_img, 3, S, S]; ``image_to_sample`` LongTensor [N_img]; ``input_ids``,
        ``attention_mask`` [B, T]; ``instruction_ids``, ``instruction_mask`` [B, L]; ``labels`` [B, T] aligned with
        ``input_ids`` (the loss predicts ``labels[:, t + 1]`` from position ``t``; -100 is ignored).

        ``pack``: run the LM on the real tokens packed into fewer rows (:mod:`.packing`; same result, less
        compute on padding). ``None``: pack when less than ``PACK_BELOW`` of the batch is real tokens and no
        cache is asked for. Packed logits at padding positions are zeros.

        ``grounding``: FloatTensor [N_img, K, P] per-patch targets (:func:`.grounding.grounding_targets`, which the
        processor adds to training batches of a grounding model); ignored by a model without relevance maps.
        ``anchor_grounding``: FloatTensor [N_img, P] the relation anchors' targets (:func:`.grounding.anchor_targets`,
        added with ``image_tokenizer.relations``) and ``relation_labels`` LongTensor [N_img] the relations the
        instructions use (:func:`.grounding.relation_targets`); ignored by a model without the relation term.

        ``region_*``: the labelled instances of the batch (:func:`.region_text.region_text_targets`, which the
        processor adds to training batches when ``vision.region_text_weight > 0``); ignored by a model without
        the region–text head.

        ``attribute_targets``: LongTensor [N_img, G, P] per-patch attribute classes
        (:func:`.attributes.attribute_targets`, which the processor adds to training batches when
        ``vision.attribute_weight > 0``); ignored by a model without the attribute heads.

        ``mask_positions`` [M, 2] / ``mask_images`` [M] / ``mask_targets`` [M, S, S]: where each answer's ``<mask>``
        sits, the image it names and its mask on the canvas (:func:`.mask_decoder.mask_targets`, which the
        processor adds to training batches when ``mask_decoder.enabled``); ignored by a model without the decoder.

        ``return_logits=False`` (training): with ``labels``, the output layer runs only where a label is predicted
        (the answers: a third of a ShapesWorld batch's tokens) and ``logits`` is ``None`` — the same loss for
        less compute."""
        if input_ids.ndim != 2 or attention_mask.shape != input_ids.shape:
            raise ValueError(
                f"input_ids and attention_mask must both be [B, T], got {list(input_ids.shape)} / {list(attention_mask.shape)}"
            )
        if labels is not None and labels.shape != input_ids.shape:
            raise ValueError(f"labels must be [B, T] = {list(input_ids.shape)}, got {list(labels.shape)}")
        embeds, images = self._embed(pixel_values, image_to_sample, input_ids, instruction_ids, instruction_mask)
        relevance = images.relevance if images is not None else None
        positions = self.position_ids(attention_mask)
        if pack is None:  # worth it once a good part of the batch is padding; a cache needs the padded layout
            pack = not use_cache and float(attention_mask.float().mean()) < PACK_BELOW
        past = None
        # Without logits, run the LM's body and apply the output layer only where a label is predicted.
        selective = not return_logits and labels is not None and not use_cache and self._plain_output_layer()
        lm = self.lm.base_model if selective else self.lm
        paint = self.mask_decoder is not None and mask_positions is not None and images is not None
        want_hidden = (self.location_head is not None or paint) and labels is not None
        extra = {"output_hidden_states": True} if want_hidden and not selective else {}
        chosen = None  # with ``selective`` and no hidden states asked for: (hidden, target) where a label is predicted
        if pack:
            plan = plan_packing(attention_mask)
            src = plan.positions(attention_mask)
            h = embeds.shape[-1]
            flat = torch.cat([embeds.reshape(-1, h), embeds.new_zeros(1, h)])
            out = lm(
                inputs_embeds=flat.index_select(0, src.reshape(-1)).view(*src.shape, h),
                attention_mask=plan.attention_mask(embeds.dtype),
                position_ids=torch.cat([positions.reshape(-1), positions.new_zeros(1)])[src],
                use_cache=False,
                **extra,
            )
            packed = out.last_hidden_state if selective else out.logits
            if selective and not want_hidden:  # the loss needs the packed slots that predict a label, nothing else
                ignore = labels.new_full((labels.shape[0], 1), IGNORE_INDEX)
                following = torch.cat([labels[:, 1:], ignore], 1).reshape(-1)  # the label each position predicts
                target = torch.cat([following, ignore[0]])[src].reshape(-1)
                at = (target != IGNORE_INDEX).nonzero().squeeze(1)
                chosen = (packed.reshape(-1, packed.shape[-1]).index_select(0, at), target[at])
                result = packed
            else:
                real = attention_mask.bool()
                result = packed.new_zeros((*input_ids.shape, packed.shape[-1]))
                result[real] = plan.scatter(packed)
            if extra:
                hidden = out.hidden_states[-1].new_zeros((*input_ids.shape, out.hidden_states[-1].shape[-1]))
                hidden[attention_mask.bool()] = plan.scatter(out.hidden_states[-1])
        else:
            out = lm(inputs_embeds=embeds, attention_mask=attention_mask, position_ids=positions, use_cache=use_cache,
                     **extra)  # fmt: skip
            result = out.last_hidden_state if selective else out.logits
            past = returned_cache(out) if use_cache else None
            if extra:
                hidden = out.hidden_states[-1]
            if selective and not want_hidden:
                target = labels[:, 1:].reshape(-1)
                at = (target != IGNORE_INDEX).nonzero().squeeze(1)
                chosen = (result[:, :-1].reshape(-1, result.shape[-1]).index_select(0, at), target[at])
        if selective:
            hidden = result
        elif not extra:
            hidden = None
        logits = None if selective else result
        loss = None
        if labels is not None:
            if chosen is not None:
                picked, wanted = chosen
            else:
                target = labels[:, 1:]
                predicted = target != IGNORE_INDEX
                picked = (result[:, :-1] if selective else logits[:, :-1])[predicted]
                wanted = target[predicted]
            if not len(wanted):  # nothing to predict: a zero that still carries the graph
                loss = result.sum() * 0.0
            else:
                scores = self.lm.get_output_embeddings()(picked) if selective else picked
                sigma = self.config.lm.location_sigma
                bins_of = bin_lookup(self.loc_token_ids, scores.shape[-1]) if sigma > 0 else None
                loss = token_loss(scores.float(), wanted, bins_of, getattr(self, "loc_token_ids", None), sigma)
        # the tokenizer's map losses, each × grounding_weight: relevance, and the relation term's anchor and direction
        weight = self.config.image_tokenizer.grounding_weight
        map_losses = []
        for fn, pred, target in ((grounding_loss, relevance, grounding),
                                 (anchor_loss, images.anchor if images is not None else None, anchor_grounding),
                                 (relation_loss, images.relation if images is not None else None, relation_labels)):
            value = fn(pred, target.to(pred.device)) if pred is not None and target is not None else None
            map_losses.append(value)
            if value is not None and loss is not None:
                loss = loss + weight * value
        g_loss, an_loss, r_loss = map_losses
        rt_loss = None
        if self.region_text is not None and region_weights is not None:
            missing = [name for name, v in (("region_image", region_image), ("region_text_ids", region_text_ids),
                       ("region_text_mask", region_text_mask), ("region_group", region_group)) if v is None]  # fmt: skip
            if missing:
                raise ValueError(f"region_weights needs {', '.join(missing)} too (region_text_targets gives all five)")
            if region_image.numel() and (int(region_image.min()) < 0 or int(region_image.max()) >= len(pixel_values)):
                raise ValueError(f"region_image values must index the batch's {len(pixel_values)} images, "
                                 f"got {region_image.tolist()}")  # fmt: skip
            used = region_image.unique()  # sorted: each image's plain features once
            features = self.plain_features(pixel_values[used])
            text = self.lm.get_input_embeddings()(region_text_ids)
            rt_loss = self.region_text(features, region_weights.to(features.device), torch.searchsorted(used, region_image),
                                       text, region_text_mask, region_group)  # fmt: skip
            if loss is not None:
                loss = loss + self.config.vision.region_text_weight * rt_loss
        a_loss = None
        if self.attributes is not None and attribute_targets is not None and images is not None:
            a_loss = self.attributes(images.features, attribute_targets)
            if a_loss is not None and loss is not None:
                loss = loss + self.config.vision.attribute_weight * a_loss
        l_loss = None
        if want_hidden and self.location_head is not None:
            bins = bin_lookup(self.loc_token_ids, self.config.lm.vocab_size)[labels[:, 1:].clamp(min=0)]
            at = (labels[:, 1:] != IGNORE_INDEX) & (bins >= 0)
            if bool(at.any()):
                l_loss = location_loss(self.location_head(hidden[:, :-1][at]), bins[at], self.config.bins)
                loss = loss + self.config.lm.location_weight * l_loss
        m_loss = None
        if want_hidden and paint:
            if mask_images is None or mask_targets is None:
                raise ValueError("mask_positions needs mask_images and mask_targets too (mask_targets() gives all three)")
            query = hidden[mask_positions[:, 0], mask_positions[:, 1]]
            m_logits = self.mask_decoder(pixel_values, images.features, images.relevance, mask_images, query)
            m_loss = mask_loss(m_logits, mask_targets)
            loss = loss + self.config.mask_decoder.weight * m_loss
        return VistaOutput(loss, logits, past, g_loss, rt_loss, a_loss, l_loss, mask_loss=m_loss, anchor_loss=an_loss,
                           relation_loss=r_loss)  # fmt: skip

    @torch.no_grad()
    def paint_masks(
        self,
        pixel_values: torch.Tensor,
        image_to_sample: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        instruction_ids: torch.Tensor,
        instruction_mask: torch.Tensor,
        mask_positions: torch.Tensor,
        mask_images: torch.Tensor,
    ) -> torch.Tensor:
        """The mask decoder's probabilities ``[M, S, S]`` for the ``<mask>`` tokens at ``mask_positions`` [M, 2]
        (row, column) of full sequences ``input_ids`` [B, T] (prompt + answer), each painted on batch image
        ``mask_images`` [M] — the same hidden states (the LM body's last) the decoder trained on."""
        if self.mask_decoder is None:
            raise ValueError("this model has no mask decoder (train it with mask_decoder.enabled=true)")
        embeds, images = self._embed(pixel_values, image_to_sample, input_ids, instruction_ids, instruction_mask)
        if images is None:
            raise ValueError("paint_masks needs the batch's images")
        body = self.lm.base_model(inputs_embeds=embeds, attention_mask=attention_mask,
                                  position_ids=self.position_ids(attention_mask))  # fmt: skip
        query = body.last_hidden_state[mask_positions[:, 0], mask_positions[:, 1]]
        logits = self.mask_decoder(pixel_values, images.features, images.relevance, mask_images, query)
        return logits.float().sigmoid()

    def _plain_output_layer(self) -> bool:
        """Whether the LM's logits are exactly its output layer applied to its body's last hidden state (no final
        soft-capping or scaling), so the output layer may run on selected positions only."""
        hf = self.lm.config
        return not getattr(hf, "final_logit_softcapping", None) and getattr(hf, "logit_scale", None) in (None, 1.0)

    def step(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, past_key_values: Any, hidden: bool = False
    ) -> VistaOutput:
        """One cached decoding step: new ``input_ids`` [B, 1] (text tokens only), ``attention_mask`` [B, past + 1].
        ``hidden``: also return the LM's last hidden states."""
        pos = self.position_ids(attention_mask)[:, -input_ids.shape[1] :]
        out = self.lm(input_ids=input_ids, attention_mask=attention_mask, position_ids=pos, use_cache=True,
                      output_hidden_states=hidden, **{cache_argument(self.lm): past_key_values})  # fmt: skip
        return VistaOutput(None, out.logits, returned_cache(out), hidden=out.hidden_states[-1] if hidden else None)

    # --- checkpoints ---------------------------------------------------------------------------------------------
    def save_pretrained(self, path: str | Path, processor: Any | None = None) -> Path:
        """Write ``config.json`` + ``model.safetensors`` (+ the processor's tokenizer files) to ``path``, atomically:
        everything is written to a temporary sibling folder, then renamed into place, so a crash leaves either
        the old checkpoint or the new one. A folder holding other files is refused (never clobbered)."""
        path = Path(path)
        if path.exists():
            foreign = [p.name for p in path.iterdir()] if path.is_dir() else [path.name]
            foreign = [n for n in foreign if n not in _CHECKPOINT_FILES]
            if foreign:
                raise ValueError(f"{path} exists and holds files that are not a checkpoint's ({foreign[:3]}); "
                                 f"save into an empty or new folder")  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
        try:
            (tmp / CONFIG_FILE).write_text(self.config.to_json() + "\n", encoding="utf-8")
            with lora.without_lora(self):  # base weights under their usual names; adapters apart, in lora/
                save_model(self, str(tmp / WEIGHTS_FILE), metadata={"format": "pt", "vistakit": "1"})
            lora.save_adapters(self, tmp / lora.LORA_DIR)
            if processor is not None:
                processor.tokenizer.save_pretrained(str(tmp))
            if path.exists():
                old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.old-"))
                os.replace(path, old / path.name)
                os.replace(tmp, path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, path)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return path

    @classmethod
    def from_pretrained(
        cls, path: str | Path, map_location: str | torch.device = "cpu", merge_lora: bool = True
    ) -> VistaModel:
        """Load a checkpoint directory offline (``config.json`` + ``model.safetensors``; never pickle). LoRA
        adapters in ``lora/`` (:mod:`.lora`) are put on and merged into the weights (``merge_lora=False``: kept
        apart, to resume training them)."""
        path = Path(path)
        config = read_config(path)
        weights = path / WEIGHTS_FILE
        if not weights.is_file():
            raise FileNotFoundError(f"{path} is not a vistakit checkpoint: no {WEIGHTS_FILE}")
        model = build_model(config, load_weights=False)
        missing, unexpected = load_model(model, str(weights), strict=False)
        if missing or unexpected:
            raise ValueError(f"{weights} does not match its config.json: missing {sorted(missing)[:5]}, "
                             f"unexpected {sorted(unexpected)[:5]}")  # fmt: skip
        if (path / lora.LORA_DIR).is_dir():
            lora.load_adapters(model, path / lora.LORA_DIR)
            if merge_lora:
                lora.merge_lora(model)
        return model.to(map_location).eval()


def build_model(config: ModelConfig, tokenizer: Any | None = None, load_weights: bool = True) -> VistaModel:
    """Build the parts named by ``config`` and compose them.

    ``tokenizer`` (a transformers tokenizer with the vista tokens, see :mod:`.text_tokenizer`) sets the vocab
    size and ``image_pad_id``; without it they must already be in ``config`` (a loaded checkpoint).
    ``load_weights``: load pretrained HF parts from their ``hf_path`` (False: random init from stored configs).
    The model owns a deep copy of ``config`` with HF sizes filled in.
    """
    config = copy.deepcopy(config).validate()
    if tokenizer is not None:
        check_tokenizer(tokenizer, config.bins)
        config.lm.vocab_size = len(tokenizer)
        config.image_pad_id = int(tokenizer.convert_tokens_to_ids(IMAGE_PAD))
    if config.lm.vocab_size <= 0 or config.image_pad_id < 0:
        raise ValueError("no tokenizer given and the config has no vocab_size / image_pad_id; pass the tokenizer")
    vision = build_vision(config.vision, load_weights)
    if config.vision.image_size != config.canvas:
        config.canvas = config.vision.image_size  # an HF tower fixes its input size
    lm = build_language_model(config.lm, config.lm.vocab_size, load_weights)
    if tokenizer is not None and config.lm.loc_init == "sincos":  # a new model (a checkpoint brings its own rows)
        ids = tokenizer.convert_tokens_to_ids([f"<loc_{k}>" for k in range(config.bins)])
        init_location_rows(lm, ids)
    image_tokenizer = build_image_tokenizer(config.image_tokenizer, config.vision.dim, config.lm.hidden)
    model = VistaModel(config, vision, image_tokenizer, lm)
    if tokenizer is not None and needs_loc_ids(config):
        ids = tokenizer.convert_tokens_to_ids([f"<loc_{k}>" for k in range(config.bins)])
        model.loc_token_ids.copy_(torch.tensor(ids, dtype=torch.long))
    return model


def needs_loc_ids(config: ModelConfig) -> bool:
    """Whether the model keeps the ``<loc_k>`` token ids (where tokens write them; the location head and the
    smoothed location loss read them)."""
    return config.image_tokenizer.writes_box or config.lm.location_weight > 0 or config.lm.location_sigma > 0


@torch.no_grad()
def init_location_rows(lm: nn.Module, ids: list[int]) -> None:
    """Give the ``<loc_k>`` rows (token ids ``ids``, in bin order) of the input embeddings and of the output head a
    sinusoidal code of k, at the scale of the other rows: bins that are close start with close embeddings and
    close logits, so the model does not have to discover from scratch that <loc_31> lies between <loc_30> and
    <loc_32>."""
    k = torch.arange(len(ids), dtype=torch.float32)[:, None]
    for weight in (lm.get_input_embeddings().weight, lm.get_output_embeddings().weight):
        dim = weight.shape[1]
        freqs = torch.exp(-math.log(4 * len(ids)) * torch.arange(dim // 2, dtype=torch.float32) / max(1, dim // 2))
        code = torch.zeros(len(ids), dim)
        code[:, 0 : 2 * (dim // 2) : 2] = torch.sin(k * freqs * math.pi / 2)
        code[:, 1 : 2 * (dim // 2) : 2] = torch.cos(k * freqs * math.pi / 2)
        others = torch.ones(weight.shape[0], dtype=torch.bool)
        others[ids] = False
        std = float(weight[others].float().std()) if others.any() else 0.02
        weight[ids] = (code * std * math.sqrt(2)).to(weight.dtype)

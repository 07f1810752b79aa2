"""Engine: batched generation (greedy or beam search) with a KV cache, constrained location spans, and a
confidence for every location token.

The prompt (images included) is run once through the LM with ``inputs_embeds``; later steps feed only the new
token and reuse ``past_key_values`` (``use_cache=False`` re-runs the whole sequence each step: slower, for
checking). Greedy is beam search with one beam. A token's score is its softmax probability under the model
(before the constraint mask); ``loc_scores`` are the scores of the ``<loc_k>`` tokens, in order.

Location readout ``head`` (a model with the location head, :mod:`.location_head`): the probability of writing
*some* location token stays the LM's, and is shared among the bins by the head's regression.

Greedy decoding of a Llama LM (the default) runs the lean step over a static cache (:mod:`.static_cache`):
answers leave the batch when they end, and the image features and each fed token's hidden state are kept so
:meth:`Engine.paint_masks` paints without running the model again. In float32 its tokens are Hugging Face's
(tested); under bf16 autocast the fused kernels round differently, so a long answer may part from Hugging
Face's after many tokens (one polygon of six records in a check). ``Engine(lean=False)``: Hugging Face's forward.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..data.record import Record, VisualPrompt
from ..geometry import SoftMask
from ..tasks import Prediction
from .config import LOCATION_READOUTS, MASK_READOUTS
from .constraints import FREE, LocationConstraint, State
from .language import returned_cache
from .location_head import location_logprobs
from .mask_decoder import answer_plans, painted_kinds
from .modeling import VistaModel
from .processor import VistaBatch, VistaProcessor
from .static_cache import StaticDecoder, supports

_TAG_RE = re.compile(r"<[^<>\s]{1,24}>")
_SPAN_KIND = {"<box>": "box", "<point>": "point", "<mask>": "mask", "<kps>": "keypoints"}
_SPAN_CLOSE = {"</box>", "</point>", "</mask>", "</kps>"}


@dataclass
class GenerationResult:
    """One generated answer: ``text`` (grammar text, special tokens dropped), ``token_ids`` (without ``</s>``),
    ``token_scores`` (softmax probability of each of them), ``loc_scores`` (those of the ``<loc_k>`` tokens, in
    order) and ``score`` (the sequence log-probability the search ranked by, length-normalised for beams)."""

    text: str
    token_ids: list[int] = field(default_factory=list)
    token_scores: list[float] = field(default_factory=list)
    loc_scores: list[float] = field(default_factory=list)
    score: float = 0.0
    trace: _Trace | None = field(default=None, repr=False, compare=False)  # what paint_masks can reuse


@dataclass
class _Trace:
    """What the lean decoding computed for a batch that the mask decoder needs again: the images' tokenizer
    outputs (``features``, ``relevance``) and ``hidden`` [B, N, H], the LM body's last hidden state at each fed
    answer token (answer token j of sample i at ``hidden[i, j]``; the last token is never fed)."""

    batch: VistaBatch  # on the engine's device
    images: Any
    hidden: torch.Tensor
    source: VistaBatch | None = None  # the batch the caller passed


def span_scores(text: str, loc_scores: Sequence[float]) -> list[tuple[str, float]]:
    """``(kind, confidence)`` per location span of ``text`` (box, point, mask, keypoints) in order: the mean
    score of the span's location tokens. ``loc_scores`` must be one per ``<loc_k>`` in ``text``."""
    out: list[tuple[str, float]] = []
    k, kind, cur = 0, None, []
    for tag in _TAG_RE.findall(text):
        if tag.startswith("<loc_"):
            if kind is not None and k < len(loc_scores):
                cur.append(loc_scores[k])
            k += 1
        elif tag in _SPAN_KIND:
            kind, cur = _SPAN_KIND[tag], []
        elif tag in _SPAN_CLOSE and kind is not None:
            out.append((kind, sum(cur) / len(cur) if cur else 0.0))
            kind = None
    return out


class _Runner:
    """Holds the decoding state of the LM (a KV cache, or the full embedded sequence without one)."""

    def __init__(self, model: VistaModel, batch: VistaBatch, use_cache: bool, hidden: bool = False) -> None:
        self.model, self.use_cache, self.want_hidden = model, use_cache, hidden
        self.hidden: torch.Tensor | None = None  # [R, H] the last position's hidden state, with ``hidden``
        self.mask = batch["attention_mask"]
        self.embeds = model.embed(batch["pixel_values"], batch["image_to_sample"], batch["input_ids"],
                                  batch["instruction_ids"], batch["instruction_mask"])  # fmt: skip
        self.past = None

    def _run(self) -> torch.Tensor:
        out = self.model.lm(inputs_embeds=self.embeds, attention_mask=self.mask,
                            position_ids=self.model.position_ids(self.mask), use_cache=self.use_cache,
                            output_hidden_states=self.want_hidden)  # fmt: skip
        self.past = returned_cache(out) if self.use_cache else None
        self.hidden = out.hidden_states[-1][:, -1] if self.want_hidden else None
        return out.logits[:, -1]

    def prefill(self) -> torch.Tensor:
        """Logits [B, V] for the first new token."""
        return self._run()

    def expand(self, k: int) -> None:
        """Repeat every row ``k`` times (one per beam)."""
        self.reorder(torch.arange(self.mask.shape[0], device=self.mask.device).repeat_interleave(k))

    def reorder(self, rows: torch.Tensor) -> None:
        self.mask = self.mask[rows]
        if self.hidden is not None:
            self.hidden = self.hidden[rows]
        if self.use_cache:
            self.past.reorder_cache(rows)
        else:
            self.embeds = self.embeds[rows]

    def advance(self, tokens: torch.Tensor) -> torch.Tensor:
        """Append ``tokens`` [R] and return the logits [R, V] for the next one."""
        self.mask = torch.cat([self.mask, self.mask.new_ones(self.mask.shape[0], 1)], 1)
        if self.use_cache:
            out = self.model.step(tokens[:, None], self.mask, self.past, hidden=self.want_hidden)
            self.past = out.past_key_values
            self.hidden = out.hidden[:, -1] if self.want_hidden else None
            return out.logits[:, -1]
        new = self.model.lm.get_input_embeddings()(tokens[:, None]).to(self.embeds.dtype)
        self.embeds = torch.cat([self.embeds, new], 1)
        return self._run()


class Engine:
    """Generation for a model and its processor. ``device``: where to run (default: the model's). ``lean``: greedy
    decoding of a Llama LM runs the lean step over a static cache (:mod:`.static_cache`) — the same tokens as
    Hugging Face's forward, faster; ``False`` always uses Hugging Face's forward (for checking and benchmarks)."""

    def __init__(
        self, model: VistaModel, processor: VistaProcessor, device: str | torch.device | None = None, lean: bool = True
    ) -> None:
        self.model, self.processor, self.lean = model, processor, lean
        self.device = torch.device(device) if device is not None else next(model.parameters()).device
        tok = processor.tokenizer
        self.eos_id, self.pad_id = int(tok.eos_token_id), int(tok.pad_token_id)
        self.loc_ids = {int(tok.convert_tokens_to_ids(f"<loc_{k}>")) for k in range(model.config.bins)}
        self.constraint = LocationConstraint(tok, model.config.lm.vocab_size, model.config.bins,
                                             model.config.mask_points, self.eos_id)  # fmt: skip

    def generate(
        self,
        images: Sequence[Sequence[Any]],
        prompts: Sequence[str],
        visual_prompts: Sequence[Sequence[VisualPrompt]] | None = None,
        **gen: Any,
    ) -> list[GenerationResult]:
        """Answers for B samples (``images[b]`` a list of the sample's images, ``prompts[b]`` with one
        ``<image>`` each). ``gen``: see :meth:`generate_batch`."""
        batch = self.processor(images, prompts, visual_prompts=visual_prompts, padding_side="left")
        return self.generate_batch(batch, **gen)

    @torch.no_grad()
    def generate_batch(
        self,
        batch: VistaBatch,
        max_new_tokens: int = 128,
        num_beams: int = 1,
        constrained: bool = True,
        use_cache: bool = True,
        length_penalty: float = 1.0,
        locations: str | None = None,
    ) -> list[GenerationResult]:
        """Generate from a processed, left-padded batch (no answers). Stops at ``</s>`` or ``max_new_tokens``
        (or the LM's ``max_positions``). ``constrained``: allow only well-formed location spans. ``locations``:
        ``tokens`` (a location's bin from the LM's ``<loc_k>`` scores) or ``head`` (from the location head's
        regression); default: the model's ``lm.location_readout``."""
        locations = self.model.config.lm.location_readout if locations is None else locations
        if locations not in LOCATION_READOUTS:
            raise ValueError(f"locations must be one of {list(LOCATION_READOUTS)}, got {locations!r}")
        if locations == "head" and self.model.location_head is None:
            raise ValueError("locations='head' needs a model trained with the location head (lm.location_weight > 0)")
        if not isinstance(num_beams, int) or num_beams < 1:
            raise ValueError(f"num_beams must be a positive integer, got {num_beams!r}")
        if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be a positive integer, got {max_new_tokens!r}")
        mask = batch["attention_mask"]
        if bool((mask[:, -1] == 0).any()):
            raise ValueError(
                "generation needs a left-padded batch: call the processor without answers or with padding_side='left'"
            )
        was_training = self.model.training
        self.model.eval()
        try:
            results = self._search(
                batch.to(self.device), max_new_tokens, num_beams, constrained, use_cache, length_penalty,
                locations == "head",
            )
            if results and results[0].trace is not None:
                results[0].trace.source = batch
            return results
        finally:
            self.model.train(was_training)

    def _search(
        self, batch: VistaBatch, max_new: int, k: int, constrained: bool, use_cache: bool, alpha: float,
        head: bool = False,
    ) -> list[GenerationResult]:
        b, t = batch["input_ids"].shape
        max_new = min(max_new, self.model.config.lm.max_positions - t)
        if self.lean and use_cache and k == 1 and not head and max_new > 0 and supports(self.model.lm) is None:
            return self._greedy(batch, max_new, constrained)
        runner = _Runner(self.model, batch, use_cache, hidden=head)
        logits = runner.prefill()
        if k > 1:
            runner.expand(k)
            logits = logits.repeat_interleave(k, 0)
        rows = b * k
        dev = logits.device
        scores = torch.zeros(b, k, device=dev, dtype=torch.float64)
        scores[:, 1:] = -math.inf  # all beams start identical: expand from the first only
        scores = scores.view(-1)
        finished = torch.zeros(rows, dtype=torch.bool, device=dev)
        states: list[State] = [FREE] * rows
        ids: list[list[int]] = [[] for _ in range(rows)]
        probs: list[list[float]] = [[] for _ in range(rows)]
        vocab = logits.shape[-1]
        for _ in range(max(0, max_new)):
            if logits.dtype in (torch.float16, torch.bfloat16):
                logits = logits.float()  # softmax and beam sums in at least float32
            if head:
                logits = self._head_readout(logits, runner.hidden)
            p_model = logits.softmax(-1)
            if constrained:
                allowed = torch.stack([self.constraint.mask(s, dev) for s in states])
                logits = logits.masked_fill(~allowed, -math.inf)
            logp = logits.log_softmax(-1)
            logp[finished] = -math.inf
            logp[finished, self.pad_id] = 0.0  # a finished beam only continues with padding, at no cost
            top, idx = (scores[:, None] + logp.to(scores.dtype)).view(b, k * vocab).topk(k, dim=1)
            src = (torch.arange(b, device=dev)[:, None] * k + idx // vocab).view(-1)
            tok = (idx % vocab).view(-1)
            scores = top.view(-1)
            src_l, tok_l, fin_l = src.tolist(), tok.tolist(), finished.tolist()
            p_l = p_model[src, tok].tolist()
            new_ids, new_probs, new_states = [], [], []
            for r in range(rows):
                s, w = src_l[r], tok_l[r]
                done_before = fin_l[s]
                new_ids.append(ids[s] if done_before else ids[s] + [w])
                new_probs.append(probs[s] if done_before else probs[s] + [p_l[r]])
                new_states.append(states[s] if done_before else self.constraint.advance(states[s], w))
            ids, probs, states = new_ids, new_probs, new_states
            finished = finished[src] | (tok == self.eos_id)
            if k > 1:
                finished = self._settle(finished, ids, scores, b, k, alpha)
            if bool(finished.all()):
                break
            if k > 1:
                runner.reorder(src)
            logits = runner.advance(tok)
        return [self._result(ids, probs, scores, r * k, k, alpha) for r in range(b)]

    def _greedy(self, batch: VistaBatch, max_new: int, constrained: bool) -> list[GenerationResult]:
        """Greedy decoding over a static cache with the lean step; answers leave the batch once they end. The
        same choices and scores as :meth:`_search` with one beam (a row's tokens do not depend on the others)."""
        model, mask = self.model, batch["attention_mask"]
        embeds, images = model._embed(batch["pixel_values"], batch["image_to_sample"], batch["input_ids"],
                                      batch["instruction_ids"], batch["instruction_mask"])  # fmt: skip
        out = model.lm(inputs_embeds=embeds, attention_mask=mask, position_ids=model.position_ids(mask),
                       use_cache=True, logits_to_keep=1)  # fmt: skip  (the output layer on the last position only)
        decoder = StaticDecoder(model.lm, returned_cache(out), mask, max_new - 1)
        logits = out.logits[:, -1]
        b, dev = mask.shape[0], logits.device
        ids: list[list[int]] = [[] for _ in range(b)]
        probs: list[list[float]] = [[] for _ in range(b)]
        scores = [0.0] * b
        states: list[State] = [FREE] * b
        rows = list(range(b))  # the sample each decoder row answers; -1 once it has ended (until compacted)
        # with a mask decoder, keep each fed token's hidden state so that painting need not run the model again
        keep_hidden = model.mask_decoder is not None and images is not None
        hidden = embeds.new_zeros(b + 1, max(1, max_new - 1), embeds.shape[-1]) if keep_hidden else None  # row b: ended rows
        for step in range(max_new):
            if logits.dtype != torch.float32 and logits.dtype != torch.float64:
                logits = logits.float()  # softmax and score sums in at least float32
            p_model = logits.softmax(-1)
            if constrained:
                allowed = torch.stack([self.constraint.mask(states[r] if r >= 0 else FREE, dev) for r in rows])
                logits = logits.masked_fill(~allowed, -math.inf)
            logp = logits.log_softmax(-1)
            tok = logp.argmax(-1)
            at = tok[:, None]
            tok_l, logp_l, p_l = tok.tolist(), logp.gather(1, at)[:, 0].tolist(), p_model.gather(1, at)[:, 0].tolist()
            for i, r in enumerate(rows):
                if r < 0:
                    continue
                w = tok_l[i]
                ids[r].append(w)
                probs[r].append(p_l[i])
                scores[r] += logp_l[i]
                if w == self.eos_id:
                    rows[i] = -1
                elif constrained:
                    states[r] = self.constraint.advance(states[r], w)
            live = [i for i, r in enumerate(rows) if r >= 0]
            if not live or step == max_new - 1:
                break
            if len(live) <= 3 * len(rows) // 4:  # compact: ended answers leave the batch
                keep = torch.tensor(live, dtype=torch.long, device=dev)
                decoder.keep(keep)
                tok, rows = tok[keep], [rows[i] for i in live]
            logits, h = decoder.step(tok, hidden=keep_hidden)
            if hidden is not None:
                hidden[[r if r >= 0 else b for r in rows], step] = h.to(hidden.dtype)
        results = [self._result(ids, probs, scores, r, 1, 1.0) for r in range(b)]
        if hidden is not None:
            trace = _Trace(batch, images, hidden)
            for res in results:
                res.trace = trace
        return results

    def _head_readout(self, logits: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """``logits`` [R, V] with the ``<loc_k>`` block replaced: the LM's total location log-probability mass,
        shared among the bins by the location head's regression from ``hidden`` [R, H]."""
        loc = self.model.loc_token_ids.to(logits.device)
        values = self.model.location_head(hidden)
        out = logits.float().clone()
        out[:, loc] = out[:, loc].logsumexp(-1, keepdim=True) + location_logprobs(values, len(loc))
        return out

    @staticmethod
    def _norm(score: float, length: int, k: int, alpha: float) -> float:
        """The score beams compete on: the log-probability over ``length ** alpha`` (raw for greedy)."""
        return score / max(1, length) ** alpha if k > 1 else score

    def _settle(self, finished: torch.Tensor, ids, scores: torch.Tensor, b: int, k: int, alpha: float) -> torch.Tensor:
        """Stop a sample's search once its best ended answer (``</s>`` written) scores at least as well as every
        beam still running, each judged by its score so far (as Hugging Face's default ``early_stopping=False``).
        Without it, a beam that never ends (a run-on repeating itself, each token nearly certain) outscores a
        short finished answer once its log-probability is divided by its length."""
        sc, fin = scores.tolist(), finished.tolist()
        for i in range(b):
            rows = range(i * k, i * k + k)
            ended = [self._norm(sc[r], len(ids[r]), k, alpha) for r in rows if ids[r] and ids[r][-1] == self.eos_id]
            live = [self._norm(sc[r], len(ids[r]), k, alpha) for r in rows if not fin[r]]
            if ended and live and max(ended) >= max(live):
                finished[i * k : i * k + k] = True
        return finished

    def _result(self, ids, probs, scores, first: int, k: int, alpha: float) -> GenerationResult:
        """The best of rows ``first .. first + k`` by length-normalised score when beams compete; a beam that
        ended (wrote ``</s>``) beats one cut off by the length limit."""

        def norm(r: int) -> float:
            return self._norm(float(scores[r]), len(ids[r]), k, alpha)

        rows = range(first, first + k)
        ended = [r for r in rows if ids[r] and ids[r][-1] == self.eos_id]
        best = max(ended or rows, key=norm)
        seq, pr = ids[best], probs[best]
        if seq and seq[-1] == self.eos_id:
            seq, pr = seq[:-1], pr[:-1]
        locs = [p for i, p in zip(seq, pr) if i in self.loc_ids]
        return GenerationResult(self.processor.decode(seq), list(seq), list(pr), locs, norm(best))

    # --- typed predictions ------------------------------------------------------------------------------------
    def predict(
        self,
        images: Sequence[Sequence[Any]],
        prompts: Sequence[str],
        tasks: Sequence[str],
        visual_prompts: Sequence[Sequence[VisualPrompt]] | None = None,
        masks: str | None = None,
        **gen: Any,
    ) -> list[tuple[GenerationResult, Prediction]]:
        """Generate, then parse each answer with its task into a :class:`Prediction` in original pixels.
        ``Prediction.scores`` gets one confidence per box (or mask) when they match the answer's spans.
        ``masks``: ``decoder`` (each mask — and with ``mask_decoder.boxes`` each box — painted by the super-link
        decoder from its opening token) or ``points`` (the point sequence the LM wrote); default: the model's
        ``mask_decoder.readout`` (``points`` without a decoder)."""
        if len(tasks) != len(prompts):
            raise ValueError(f"got {len(tasks)} task names for {len(prompts)} prompts; expected one each")
        masks = self.mask_readout(masks)
        batch = self.processor(images, prompts, visual_prompts=visual_prompts, padding_side="left")
        results = self.generate_batch(batch, **gen)
        painted = self.paint_masks(batch, results) if masks == "decoder" else [None] * len(results)
        out = []
        for res, task, sizes, m in zip(results, tasks, batch.image_sizes, painted):
            pred = self.processor.postprocess(res.text, task, sizes, painted=m)
            attach_scores(pred, res)
            out.append((res, pred))
        return out

    def mask_readout(self, masks: str | None = None) -> str:
        """``masks`` checked (``decoder`` or ``points``), or the model's default: its ``mask_decoder.readout``,
        ``points`` for a model without the decoder."""
        config = self.model.config.mask_decoder
        masks = (config.readout if config.enabled else "points") if masks is None else masks
        if masks not in MASK_READOUTS:
            raise ValueError(f"masks must be one of {list(MASK_READOUTS)}, got {masks!r}")
        if masks == "decoder" and self.model.mask_decoder is None:
            raise ValueError("masks='decoder' needs a model trained with the mask decoder (mask_decoder.enabled)")
        return masks

    @torch.no_grad()
    def paint_masks(self, batch: VistaBatch, results: Sequence[GenerationResult]) -> list[list[SoftMask | None] | None]:
        """What the super-link decoder paints for each generated answer: one :class:`SoftMask` per mask / box span
        in order (``None`` for a box span when the decoder paints masks only), or ``None`` for an answer with
        nothing to paint or whose spans cannot be matched to their opening tokens (it keeps what it wrote).
        Results of the lean greedy decoding of this very ``batch`` kept the hidden states at the opening tokens
        and the images' features: the decoder reuses them. Otherwise the model runs once more over prompt +
        answer, for those hidden states."""
        b = len(results)
        kinds = painted_kinds(self.model.config.mask_decoder.boxes)
        per_sample = torch.bincount(batch["image_to_sample"].cpu(), minlength=b)[:b].tolist()
        plans = answer_plans([r.token_ids for r in results], self.processor.span_openers(),
                             [r.text for r in results], self.processor.grammar, per_sample, kinds)  # fmt: skip
        if not any(plans):
            return [None] * b
        ids, att = batch["input_ids"], batch["attention_mask"]
        t = ids.shape[1]
        longest = max(len(r.token_ids) for r in results)
        full_ids = torch.cat([ids, ids.new_full((b, longest), self.pad_id)], 1)
        full_att = torch.cat([att, att.new_zeros((b, longest))], 1)
        first = [sum(per_sample[:i]) for i in range(b)]
        positions, images = [], []
        for i, (res, plan) in enumerate(zip(results, plans)):
            full_ids[i, t : t + len(res.token_ids)] = torch.tensor(res.token_ids, dtype=ids.dtype)
            full_att[i, t : t + len(res.token_ids)] = 1
            for j, k, kind in plan or []:
                if kind in kinds:
                    positions.append((i, t + j))
                    images.append(first[i] + k)
        dev = self.device
        trace = results[0].trace
        fed = trace.hidden.shape[1] if trace is not None else 0
        if (trace is not None and trace.source is batch and all(r.trace is trace for r in results)
                and all(j - t < fed for _, j in positions)):  # fmt: skip  (an opener written last was never fed)
            probs = self._paint_from_trace(trace, positions, images, t)
            return [None if plan is None else [SoftMask(next(probs)) if kind in kinds else None for _, _, kind in plan]
                    for plan in plans]  # fmt: skip
        probs = iter(self.model.paint_masks(
            batch["pixel_values"].to(dev), batch["image_to_sample"].to(dev), full_ids.to(dev), full_att.to(dev),
            batch["instruction_ids"].to(dev), batch["instruction_mask"].to(dev),
            torch.tensor(positions, dtype=torch.long, device=dev), torch.tensor(images, dtype=torch.long, device=dev),
        ).cpu().numpy())  # fmt: skip
        return [None if plan is None else [SoftMask(next(probs)) if kind in kinds else None for _, _, kind in plan]
                for plan in plans]  # fmt: skip

    @staticmethod
    def batch_of(results: Sequence[GenerationResult]) -> VistaBatch | None:
        """The batch ``results`` were generated from when decoding kept what painting reuses (lean greedy with a
        mask decoder), else ``None``: pass it to :meth:`paint_masks` to paint without a second model run."""
        trace = results[0].trace if results else None
        return trace.source if trace is not None and all(r.trace is trace for r in results) else None

    def _paint_from_trace(self, trace: _Trace, positions: list[tuple[int, int]], images: list[int], t: int):
        """The decoder's masks from the hidden states and image features kept while decoding (the same inputs
        :meth:`VistaModel.paint_masks` recomputes): an iterator over ``[S, S]`` probability arrays."""
        dev = self.device
        at = torch.tensor([(i, j - t) for i, j in positions], dtype=torch.long, device=dev).view(-1, 2)
        query = trace.hidden[at[:, 0], at[:, 1]]
        logits = self.model.mask_decoder(trace.batch["pixel_values"], trace.images.features, trace.images.relevance,
                                         torch.tensor(images, dtype=torch.long, device=dev), query)  # fmt: skip
        return iter(logits.float().sigmoid().cpu().numpy())

    def predict_records(self, records: Iterable[Record], **gen: Any) -> list[tuple[GenerationResult, Prediction]]:
        """:meth:`predict` over records (their images, prompts, visual prompts and task names)."""
        records = list(records)
        return self.predict([r.image_paths() for r in records], [r.prompt for r in records],
                            [r.task for r in records], [r.visual_prompts for r in records], **gen)  # fmt: skip


def attach_scores(pred: Prediction, result: GenerationResult) -> None:
    """Set ``pred.scores`` from the answer's span confidences when the prediction has exactly one box per box
    span (or one mask per mask span); otherwise leave it unscored."""
    spans = span_scores(result.text, result.loc_scores)
    for kind, n in (("box", len(pred.boxes)), ("mask", len(pred.masks))):
        s = [c for kd, c in spans if kd == kind]
        if n and len(s) == n:
            pred.scores = np.asarray(s, np.float64)
            return

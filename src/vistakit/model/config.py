"""Typed model configuration: the vision tower, the image tokenizer, the language model, and the answer grammar.

Only the *architecture* lives here (sizes, kinds, local weight directories, the location grammar the model
speaks); training settings live in ``vistakit.train``. A config is a tree of dataclasses that round-trips
through JSON (:meth:`ModelConfig.to_dict` / :meth:`ModelConfig.from_dict`) and accepts command-line overrides
written ``"a.b=value"`` (:func:`apply_overrides`).

Frames: the model sees every image resized (longer side) and padded bottom/right onto a ``canvas × canvas``
square; ``canvas`` must equal ``vision.image_size``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..geometry.sampling import DEFAULT_SAMPLER, get_sampler
from ..geometry.sequence import MAX_IMAGES
from .word_groups import load_vocab

CONFIG_FILE = "config.json"
VISION_KINDS = ("vit", "hf_clip", "hf_siglip")
VISION_STEMS = ("patch", "conv")
ATTRIBUTE_INSTANCES = ("scene", "targets")
LOCATION_READOUTS = ("tokens", "head")
MASK_READOUTS = ("decoder", "points")
IMAGE_TOKENIZER_KINDS = ("instruction", "projector")
WHERE_TOKENS = 4  # image_tokenizer.where_tokens: a box, x1 y1 x2 y2
LM_KINDS = ("llama", "hf")

# Pixel normalisation of the from-scratch ViT and of the CLIP / SigLIP towers (their published statistics).
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
SIGLIP_MEAN, SIGLIP_STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


def _choice(value: str, known: tuple[str, ...], what: str) -> None:
    if value not in known:
        raise ValueError(f"{what} must be one of {', '.join(known)}; got {value!r}")


def _positive(obj: Any, names: Iterable[str], where: str) -> None:
    for n in names:
        v = getattr(obj, n)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
            raise ValueError(f"{where}.{n} must be a positive number, got {v!r}")


@dataclass
class VisionConfig:
    """The vision tower. ``vit``: a ViT trained from scratch with fixed 2-D sin-cos position embeddings;
    ``hf_clip`` / ``hf_siglip``: a Hugging Face vision tower loaded offline from the local directory ``hf_path``.

    The tower maps ``[N, 3, image_size, image_size]`` to ``[N, (image_size / patch_size)², dim]`` patch features
    (CLIP's class token is dropped). ``feature_layer`` picks the hidden state of HF towers (-2: the penultimate
    layer, as LLaVA and VistaLLM do). ``hf_config`` is filled at build time with the HF tower's own config so a
    saved checkpoint rebuilds without ``hf_path``.
    ``stem`` (``vit`` only): ``patch`` embeds each patch with one linear map (a strided convolution); ``conv``
    with a few 3×3 convolutions that halve the resolution down to the patch grid (Xiao et al. 2021, "Early
    convolutions help transformers see better").
    ``instruction_film`` (``vit`` only): the tower sees the instruction too — its pooled embedding scales and
    shifts the stem's feature maps (FiLM, Perez et al. 2018) and the normalised inputs of every block's attention
    and MLP (adaLN, as in DiT), from zero-initialised maps, so the patch features are computed *for* what the
    instruction names (``research/localization_probe.py --mode grounding``).
    ``instruction_cross_attention`` (``vit`` only): every block also cross-attends from its patches to the
    instruction's words, with their positions (zero-initialised output: it starts as the plain block); unlike the
    pooled FiLM condition it keeps word order ("the circle above the yellow object").
    ``region_text_weight`` (> 0 turns it on): an auxiliary training loss for the tower — every labelled instance
    of a batch (regions with phrases: referring, segmentation, region-caption, co-segmentation answers) is pooled
    from the tower's features computed *without* the instruction and must pick out its own phrase among the
    batch's (InfoNCE, :mod:`vistakit.model.region_text`); the weight multiplies it in the loss.
    ``attribute_weight`` (> 0 turns it on): an auxiliary training loss for the tower — every patch of a labelled
    instance must name the instance's attribute words (one linear head per word group over the features the
    model computes for the sample, per-patch cross-entropy; :mod:`vistakit.model.attributes`). The groups come
    from ``attribute_vocab`` (a JSON file ``{group: [words]}``, or ``shapesworld`` for that recipe's shape, colour
    and size words; no default: heads on need one) and are written into
    ``attribute_words`` at build time, so a checkpoint rebuilds without the file. ``attribute_instances``: which
    instances teach the heads — ``targets`` (the default: the task's labelled target instances only, so a
    caption or VQA sample teaches nothing) or ``scene`` (every object of every image, from the records'
    ``meta.instances`` annotation where they have it, else their target instances).
    """

    kind: str = "vit"
    image_size: int = 64
    patch_size: int = 8
    stem: str = "patch"
    instruction_film: bool = False
    instruction_cross_attention: bool = False
    region_text_weight: float = 0.0
    attribute_weight: float = 0.0
    attribute_vocab: str = ""  # no default vocabulary: a recipe names its words (ShapesWorld's: "shapesworld")
    attribute_words: dict[str, list[str]] | None = None
    attribute_instances: str = "targets"
    dim: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0
    hf_path: str | None = None
    feature_layer: int = -2
    image_mean: tuple[float, float, float] = IMAGENET_MEAN
    image_std: tuple[float, float, float] = IMAGENET_STD
    hf_config: dict[str, Any] | None = None

    def validate(self, where: str = "vision") -> None:
        _choice(self.kind, VISION_KINDS, f"{where}.kind")
        _positive(self, ("image_size", "patch_size", "dim", "depth", "heads", "mlp_ratio"), where)
        _choice(self.stem, VISION_STEMS, f"{where}.stem")
        if not (isinstance(self.region_text_weight, (int, float)) and self.region_text_weight >= 0):
            raise ValueError(f"{where}.region_text_weight must be a number >= 0, got {self.region_text_weight!r}")
        w = self.attribute_weight
        if isinstance(w, bool) or not (isinstance(w, (int, float)) and w >= 0):
            raise ValueError(f"{where}.attribute_weight must be a number >= 0, got {w!r}")
        _choice(self.attribute_instances, ATTRIBUTE_INSTANCES, f"{where}.attribute_instances")
        if self.attribute_words is not None and (
            not isinstance(self.attribute_words, dict)
            or not all(isinstance(v, (list, tuple)) and len(v) >= 2 for v in self.attribute_words.values())
        ):
            raise ValueError(f"{where}.attribute_words must map each group to at least two words, "
                             f"got {self.attribute_words!r}")  # fmt: skip
        if w > 0 and self.attribute_words is None:  # a bad or missing vocabulary fails here, before data or weights
            load_vocab(self.attribute_vocab, f"{where}.attribute_vocab")
        if self.kind == "vit" and self.stem == "conv" and self.patch_size & (self.patch_size - 1):
            raise ValueError(f"{where}.stem 'conv' halves the resolution per layer: patch_size must be a power of 2, "
                             f"got {self.patch_size}")  # fmt: skip
        for name in ("instruction_film", "instruction_cross_attention"):
            if getattr(self, name) and self.kind != "vit":
                raise ValueError(f"{where}.{name} conditions the from-scratch ViT only, not kind {self.kind!r}")
        if self.kind == "vit" and self.image_size % self.patch_size:
            raise ValueError(f"{where}.image_size {self.image_size} must be a multiple of patch_size {self.patch_size}")
        if self.kind == "vit" and self.dim % self.heads:
            raise ValueError(f"{where}.dim {self.dim} must be divisible by heads {self.heads}")
        if self.kind == "vit" and self.dim % 4:
            raise ValueError(f"{where}.dim {self.dim} must be divisible by 4 (2-D sin-cos position embeddings)")
        for name in ("image_mean", "image_std"):
            v = getattr(self, name)
            if len(v) != 3 or (name == "image_std" and min(v) <= 0):
                raise ValueError(f"{where}.{name} must be 3 numbers (std > 0), got {v!r}")

    @property
    def num_patches(self) -> int:
        """Patch tokens per image (HF towers floor, e.g. SigLIP so400m: 384 px / 14 → 27² = 729)."""
        return (self.image_size // self.patch_size) ** 2


@dataclass
class ImageTokenizerConfig:
    """Turns one image's patch features into the tokens the language model reads.

    ``instruction`` (VistaLLM): ``num_queries`` learnable queries, ``depth`` layers of self-attention,
    cross-attention to [patch features ; instruction embeddings] and an MLP, width ``dim``, ``heads`` heads →
    ``num_queries`` tokens per image. ``projector`` (ablation): an MLP over every patch → one token per patch.

    ``grounding`` (instruction only; the projector, which reads no instruction, ignores it): the tokenizer also scores every patch for what the instruction names (a
    relevance map) and adds the scores to its cross-attention to the patches; when a batch brings grounding
    targets (the regions of referring / segmentation / detection answers), ``grounding_weight`` × their binary
    cross-entropy joins the loss (:mod:`vistakit.model.grounding`).

    ``where_tokens`` (needs ``grounding``; the projector ignores it): the relevance map read out as a box and
    given to the language model as 4 more tokens per image, in its own location vocabulary (``num_queries + 4``
    tokens per image).

    ``what_token`` (needs ``where_tokens``; the projector ignores it): one more token per image after the where
    tokens — the tower's patch features averaged under the relevance map (softmax over patches) and mapped to the LM
    width by an MLP: *what* the named object is (its colour, shape, size, as the attribute heads teach the tower to
    encode them), beside *where* it is (``num_queries + 4 + 1`` tokens per image).

    ``referents`` (K >= 1; K > 1 needs ``where_tokens``): how many relevance maps the tokenizer draws — one per
    object the instruction names, in the order it names them ("Is the red circle left of the blue square?": map 1
    the circle, map 2 the square), each read out as its own where tokens (and what token): ``num_queries +
    K × (4 + what_token)`` tokens per image. Records that name one thing train every map on it
    (:func:`vistakit.model.grounding.grounding_targets`); the queries' cross-attention is steered by all maps
    together. A relation between two objects then reaches the LM as two boxes rather than one.

    ``relations`` (needs ``grounding``; the projector ignores it): two-hop grounding for spatial relations ("the
    star left of the blue square") — the relevance head also finds the anchor the instruction names and adds to
    every map a score of where each patch lies relative to it (:class:`vistakit.model.grounding.RelationTerm`,
    zero at initialisation); records that carry their anchor (``meta["anchor_mask"]``) train the anchor map
    (``grounding_weight`` × its binary cross-entropy, logged as ``anchor_loss``) and records that name their
    relation (``meta["relation"]``) its direction (``relation_loss``). ``relation_mode``: ``add`` the relation's
    score to the map, or ``suppress`` only the patches on the wrong side of the anchor.

    ``anchor_tokens`` (needs ``relations`` and ``where_tokens``): each image also brings the relation anchor's map
    read out as a box (its own :class:`~vistakit.model.grounding.SoftBox`), as 4 more location tokens after the
    where (and what) tokens — for a comparison ("Is the star left of / larger than the square?") the LM then sees
    both objects' boxes, the named one's and the anchor's, and compares them (``num_queries + K × (4 + what_token)
    + 4`` tokens per image).

    ``comparison_token`` (needs ``anchor_tokens``): one more token after the anchor's box (and its what token,
    below) — the two boxes' offset (centre differences, log ratios of widths, heights and areas: the named object
    against the anchor) through a small MLP whose output layer starts at zero
    (:class:`~vistakit.model.grounding.ComparisonToken`), so the LM reads "left of / larger than" off one token
    instead of comparing two boxes' location embeddings itself.
    ``comparison_relation`` gives that MLP a sixth number: the centres' offset along the direction the relation
    term reads from the instruction (positive when "the A left of the B" holds).

    ``anchor_what`` (needs ``anchor_tokens`` and ``what_token``): one more token after the anchor's box — the
    tower's features under the anchor map through the what token's own MLP (no new weights), so the anchor, like
    the named object, comes as *where* and *what* ("Which is larger, the A or the B?" needs both sizes).
    """

    kind: str = "instruction"
    num_queries: int = 16
    depth: int = 2
    heads: int = 4
    dim: int = 128
    grounding: bool = False
    grounding_weight: float = 1.0
    where_tokens: bool = False
    what_token: bool = False
    referents: int = 1
    relations: bool = False
    relation_mode: str = "add"
    anchor_tokens: bool = False
    comparison_token: bool = False
    comparison_relation: bool = False
    anchor_what: bool = False

    def validate(self, where: str = "image_tokenizer") -> None:
        _choice(self.kind, IMAGE_TOKENIZER_KINDS, f"{where}.kind")
        _positive(self, ("num_queries", "depth", "heads", "dim"), where)
        if self.dim % self.heads:
            raise ValueError(f"{where}.dim {self.dim} must be divisible by heads {self.heads}")
        if not (isinstance(self.grounding_weight, (int, float)) and self.grounding_weight >= 0):
            raise ValueError(f"{where}.grounding_weight must be a number >= 0, got {self.grounding_weight!r}")
        if self.where_tokens and self.kind == "instruction" and not self.grounding:
            raise ValueError(f"{where}.where_tokens reads the relevance map: set {where}.grounding=true too")
        if type(self.what_token) is not bool:
            raise ValueError(f"{where}.what_token must be true or false, got {self.what_token!r}")
        if self.what_token and self.kind == "instruction" and not self.where_tokens:  # the projector ignores it
            raise ValueError(f"{where}.what_token pools the tower's features under the relevance map beside its box: "
                             f"set {where}.where_tokens=true too")  # fmt: skip
        if isinstance(self.referents, bool) or not isinstance(self.referents, int) or not 1 <= self.referents <= 8:
            raise ValueError(f"{where}.referents must be an integer from 1 to 8 (relevance maps per image), "
                             f"got {self.referents!r}")  # fmt: skip
        if type(self.relations) is not bool:
            raise ValueError(f"{where}.relations must be true or false, got {self.relations!r}")
        _choice(self.relation_mode, ("add", "suppress"), f"{where}.relation_mode")
        if self.relations and self.kind == "instruction" and not self.grounding:
            raise ValueError(f"{where}.relations adds a relation score to the relevance map: set "
                             f"{where}.grounding=true too")  # fmt: skip
        if type(self.anchor_tokens) is not bool:
            raise ValueError(f"{where}.anchor_tokens must be true or false, got {self.anchor_tokens!r}")
        if self.anchor_tokens and self.kind == "instruction" and not (self.relations and self.where_tokens):
            raise ValueError(f"{where}.anchor_tokens writes the relation anchor's box beside the where tokens: set "
                             f"{where}.relations=true and {where}.where_tokens=true too")  # fmt: skip
        if type(self.comparison_token) is not bool:
            raise ValueError(f"{where}.comparison_token must be true or false, got {self.comparison_token!r}")
        if self.comparison_token and self.kind == "instruction" and not self.anchor_tokens:
            raise ValueError(f"{where}.comparison_token compares the named object's box with the anchor's: set "
                             f"{where}.anchor_tokens=true too")  # fmt: skip
        if type(self.comparison_relation) is not bool:
            raise ValueError(f"{where}.comparison_relation must be true or false, got {self.comparison_relation!r}")
        if self.comparison_relation and not self.comparison_token:
            raise ValueError(f"{where}.comparison_relation adds a feature to the comparison token: set "
                             f"{where}.comparison_token=true too")  # fmt: skip
        if type(self.anchor_what) is not bool:
            raise ValueError(f"{where}.anchor_what must be true or false, got {self.anchor_what!r}")
        if self.anchor_what and self.kind == "instruction" and not (self.anchor_tokens and self.what_token):
            raise ValueError(f"{where}.anchor_what pools the tower's features under the anchor map: set "
                             f"{where}.anchor_tokens=true and {where}.what_token=true too")  # fmt: skip
        if self.referents > 1 and self.kind == "instruction" and not self.where_tokens:
            raise ValueError(f"{where}.referents={self.referents} reads each map out as where tokens: set "
                             f"{where}.where_tokens=true too")  # fmt: skip

    @property
    def writes_box(self) -> bool:
        """Whether each image also brings its relevance box as location tokens (the projector ignores it)."""
        return self.where_tokens and self.kind == "instruction"


@dataclass
class LMConfig:
    """The language model. ``llama``: a ``LlamaForCausalLM`` built from these sizes (random init);
    ``hf``: a causal LM loaded offline from the local directory ``hf_path`` (sizes then come from its config).

    ``vocab_size`` 0 means "take it from the tokenizer" (:func:`~vistakit.model.modeling.build_model` fills it).
    ``hf_config`` is filled at build time for ``hf`` so a saved checkpoint rebuilds without ``hf_path``.
    """

    kind: str = "llama"
    hidden: int = 256
    layers: int = 4
    heads: int = 4
    intermediate: int = 704
    max_positions: int = 1024
    kv_heads: int = 0  # 0: same as heads
    vocab_size: int = 0
    # How a new model's <loc_k> rows (input embeddings and output head) start: "sincos" = a sinusoidal code of k,
    # so neighbouring bins start out similar (the order of the bins need not be learned); "random" = as other rows.
    loc_init: str = "sincos"
    # The attention kernel: "auto" = PyTorch's fused SDPA on a GPU, the written-out ("eager") attention on the CPU
    # in float32 / bf16, re-chosen whenever the model moves or changes dtype (eager is faster for short CPU
    # sequences: benchmarks/attention_cpu.py).
    attention: str = "auto"
    # The location head (PixelLLM): location_weight > 0 adds an MLP that reads the hidden state before every
    # <loc_k> of an answer and regresses the coordinate that token writes, trained with L1 (x location_weight)
    # beside the token loss. location_readout "head": generation picks a location's bin from that regression
    # (the LM still decides *whether* a location comes next); "tokens": from the LM's own <loc_k> scores.
    location_weight: float = 0.0
    location_readout: str = "tokens"
    # location_sigma > 0 (in bins): the token loss of an answer's <loc_k> aims at a Gaussian of that width over the
    # bins around k (KL divergence) instead of k alone, so a near miss costs less than a far one (model.location_head
    # .token_loss); 0 = plain cross-entropy.
    location_sigma: float = 0.0
    hf_path: str | None = None
    hf_config: dict[str, Any] | None = None

    def validate(self, where: str = "lm") -> None:
        _choice(self.kind, LM_KINDS, f"{where}.kind")
        _positive(self, ("hidden", "layers", "heads", "intermediate", "max_positions"), where)
        if self.kind == "llama" and self.hidden % self.heads:
            raise ValueError(f"{where}.hidden {self.hidden} must be divisible by heads {self.heads}")
        if self.kv_heads < 0 or (self.kv_heads and self.heads % self.kv_heads):
            raise ValueError(f"{where}.kv_heads {self.kv_heads} must be 0 or divide heads {self.heads}")
        if self.vocab_size < 0:
            raise ValueError(f"{where}.vocab_size must be >= 0 (0: from the tokenizer), got {self.vocab_size}")
        _choice(self.loc_init, ("sincos", "random"), f"{where}.loc_init")
        _choice(self.attention, ("auto", "sdpa", "eager"), f"{where}.attention")
        if isinstance(self.location_weight, bool) or not (isinstance(self.location_weight, (int, float)) and self.location_weight >= 0):
            raise ValueError(f"{where}.location_weight must be a number >= 0, got {self.location_weight!r}")
        _choice(self.location_readout, LOCATION_READOUTS, f"{where}.location_readout")
        s = self.location_sigma
        if isinstance(s, bool) or not (isinstance(s, (int, float)) and 0 <= s <= 64):
            raise ValueError(f"{where}.location_sigma must be a number of bins in [0, 64] (0: plain cross-entropy), "
                             f"got {s!r}")  # fmt: skip
        if self.location_readout == "head" and not self.location_weight > 0:
            raise ValueError(f"{where}.location_readout 'head' needs the location head: set {where}.location_weight > 0")


@dataclass
class MaskDecoderConfig:
    """The super-link mask decoder (VisionLLM v2; :mod:`.mask_decoder`): the LM's hidden state at each ``<mask>``
    it writes (the routing token) conditions a small convolutional head over the image's pixels, the tower's patch
    features and the tokenizer's relevance map, which paints that mask at canvas resolution.

    ``enabled``: build it. ``dim``: its channel width. ``weight``: its loss (BCE + Dice) in the training loss.
    ``boxes``: paint each ``<box>`` too (its rectangle, from the ``<box>`` token's hidden state) and read the box
    back as the extent of the painted region.
    ``readout``: how a trained model's masks come out — ``decoder`` (painted by the head; the LM's point
    sequence stays in the answer text) or ``points`` (the polygon the LM wrote), so both can be scored on the
    same answers.
    """

    enabled: bool = False
    dim: int = 32
    weight: float = 1.0
    readout: str = "decoder"
    boxes: bool = False

    def validate(self, where: str = "mask_decoder") -> None:
        for name in ("enabled", "boxes"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{where}.{name} must be true or false, got {getattr(self, name)!r}")
        _positive(self, ("dim",), where)
        if isinstance(self.weight, bool) or not (isinstance(self.weight, (int, float)) and self.weight >= 0):
            raise ValueError(f"{where}.weight must be a number >= 0, got {self.weight!r}")
        _choice(self.readout, MASK_READOUTS, f"{where}.readout")


@dataclass
class ModelConfig:
    """The whole model: parts, the answer grammar it speaks (``bins``, ``mask_points``, ``sampler``), the
    square ``canvas`` images are fitted onto, the most images one sample may show, and the preset it came from.

    ``image_pad_id`` is the token id of ``<image_pad>`` in the model's tokenizer (-1: not yet known; filled by
    :func:`~vistakit.model.modeling.build_model` from the tokenizer).
    """

    vision: VisionConfig = field(default_factory=VisionConfig)
    image_tokenizer: ImageTokenizerConfig = field(default_factory=ImageTokenizerConfig)
    lm: LMConfig = field(default_factory=LMConfig)
    mask_decoder: MaskDecoderConfig = field(default_factory=MaskDecoderConfig)
    bins: int = 64
    mask_points: int = 16
    sampler: str = DEFAULT_SAMPLER
    canvas: int = 64
    max_images: int = 4
    preset: str = "custom"
    image_pad_id: int = -1

    def validate(self) -> ModelConfig:
        """Check every field; raises ``ValueError`` naming the field and what was expected. Returns self."""
        self.vision.validate()
        self.image_tokenizer.validate()
        self.lm.validate()
        self.mask_decoder.validate()
        if isinstance(self.bins, bool) or not isinstance(self.bins, int) or self.bins < 2:
            raise ValueError(f"bins must be an integer >= 2, got {self.bins!r}")
        if isinstance(self.mask_points, bool) or not isinstance(self.mask_points, int) or self.mask_points < 3:
            raise ValueError(f"mask_points must be an integer >= 3, got {self.mask_points!r}")
        get_sampler(self.sampler)
        if self.canvas != self.vision.image_size:
            raise ValueError(f"canvas {self.canvas} must equal vision.image_size {self.vision.image_size}")
        if not 1 <= self.max_images <= MAX_IMAGES:
            raise ValueError(
                f"max_images must be in 1..{MAX_IMAGES} (the grammar names <img_0>..), got {self.max_images}"
            )
        return self

    @property
    def relevance_grid(self) -> int:
        """Side of the image tokenizer's patch grid — its relevance map and grounding targets: the tower's patch
        grid."""
        return math.isqrt(self.vision.num_patches)

    @property
    def tokens_per_image(self) -> int:
        """How many ``<image_pad>`` slots (and image tokens) one image takes in the LM sequence."""
        if self.image_tokenizer.kind == "projector":
            return self.vision.num_patches
        it = self.image_tokenizer
        if not it.writes_box:
            return it.num_queries
        anchor = (WHERE_TOKENS + int(it.anchor_what) + int(it.comparison_token)) if it.anchor_tokens else 0
        return it.num_queries + it.referents * (WHERE_TOKENS + int(it.what_token)) + anchor

    # --- JSON ------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, obj: Any, where: str = "model config") -> ModelConfig:
        """Build (and validate) from :meth:`to_dict` output; unknown, missing or mistyped fields raise ``ValueError``
        naming the key (:mod:`.config_check`)."""
        from .config_check import check_fields

        check_fields(cls, obj, where)
        return _from_dict(cls, obj, where).validate()


# Options of experiments that were never shipped, removed (docs/experiments.md keeps their history): a config.json
# that still names one loads when it is at its "off" value (None: any value, a setting of a removed switch), and is
# refused, naming it, when the model used it.
RETIRED: dict[str, dict[str, Any]] = {
    "ImageTokenizerConfig": {"zoom_grid": 0, "zoom_margin": None, "fine_patches": False},
}


def _without_retired(cls: type, obj: dict[str, Any], where: str) -> dict[str, Any]:
    retired = RETIRED.get(cls.__name__, {})
    for name, off in retired.items():
        if name in obj and off is not None and obj[name] != off:
            raise ValueError(f"{where}.{name} = {obj[name]!r}: that experiment was removed from vistakit "
                             f"(docs/experiments.md); this model used it, so load it with a vistakit from before")  # fmt: skip
    return {k: v for k, v in obj.items() if k not in retired}


def _from_dict(cls: type, obj: Any, where: str) -> Any:
    if not isinstance(obj, dict):
        raise TypeError(f"{where} must be a JSON object, got {type(obj).__name__}")
    obj = _without_retired(cls, obj, where)
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    extra = sorted(set(obj) - names)
    if extra:
        raise ValueError(f"{where} has unknown field(s) {extra}; expected some of {sorted(names)}")
    kwargs = {}
    for name, value in obj.items():
        tp = hints[name]
        if dataclasses.is_dataclass(tp):
            kwargs[name] = _from_dict(tp, value, f"{where}.{name}")
        elif name in ("image_mean", "image_std") and isinstance(value, list):
            kwargs[name] = tuple(float(v) for v in value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


# --- "a.b=value" overrides ------------------------------------------------------------------------------------
def _parse_value(text: str, tp: Any, key: str) -> Any:
    """Text → a value of the annotated type ``tp`` (int, float, bool, str, optional str, float tuple)."""
    args = typing.get_args(tp)
    if text.lower() in ("none", "null") and type(None) in args:
        return None
    base = next((a for a in args if a is not type(None)), tp) if args and type(None) in args else tp
    if typing.get_origin(base) is tuple:
        parts = [p for p in text.strip("()[] ").split(",") if p.strip()]
        try:
            return tuple(float(p) for p in parts)
        except ValueError:
            raise ValueError(f"override {key}={text!r}: expected comma-separated numbers") from None
    if base is bool:
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"override {key}={text!r}: expected true or false")
    if base in (int, float):
        try:
            return base(text)
        except ValueError:
            raise ValueError(
                f"override {key}={text!r}: expected {'an integer' if base is int else 'a number'}"
            ) from None
    if base is str:
        return text
    raise ValueError(f"override {key}: the field cannot be set from the command line")


def apply_overrides(config: ModelConfig, overrides: Iterable[str]) -> ModelConfig:
    """A copy of ``config`` with ``"a.b=value"`` overrides applied (e.g. ``"lm.layers=2"``), validated."""
    config = dataclasses.replace(
        config,
        vision=dataclasses.replace(config.vision),
        image_tokenizer=dataclasses.replace(config.image_tokenizer),
        lm=dataclasses.replace(config.lm),
    )
    for item in overrides:
        if not isinstance(item, str) or "=" not in item:
            raise ValueError(f"override {item!r} must look like key=value, e.g. lm.layers=2")
        key, text = item.split("=", 1)
        path = key.strip().split(".")
        target: Any = config
        for part in path[:-1]:
            if not dataclasses.is_dataclass(target) or part not in {f.name for f in dataclasses.fields(target)}:
                raise ValueError(
                    f"override {key!r}: {part!r} is not a section; sections are vision, image_tokenizer, lm"
                )
            target = getattr(target, part)
        if not dataclasses.is_dataclass(target):
            raise ValueError(f"override {key!r}: {path[-2]!r} is not a section")
        fields = {f.name for f in dataclasses.fields(target)}
        name = path[-1]
        if name not in fields or dataclasses.is_dataclass(getattr(target, name)):
            raise ValueError(f"override {key!r}: unknown field {name!r}; known: {', '.join(sorted(fields))}")
        setattr(target, name, _parse_value(text.strip(), typing.get_type_hints(type(target))[name], key))
    return config.validate()


def read_config(path: str | Path) -> ModelConfig:
    """The :class:`ModelConfig` in a checkpoint directory's ``config.json`` (validated)."""
    file = Path(path) / CONFIG_FILE
    if not file.is_file():
        raise FileNotFoundError(f"{path} is not a vistakit checkpoint: no {CONFIG_FILE}")
    try:
        obj = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{file}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except (ValueError, RecursionError) as exc:  # not UTF-8, an integer of thousands of digits, absurd nesting
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).splitlines()[0][:120]
        raise ValueError(f"{file}: not a readable JSON config ({reason})") from None
    return ModelConfig.from_dict(obj, where=str(file))

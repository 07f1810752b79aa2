"""The text tokenizer: a byte-level BPE trained on prompts and answers (tiny presets), or an LM's own tokenizer
(real presets), both extended with the special tokens the model needs and every grammar token kept whole.

Special tokens (never split, skipped when decoding with ``skip_special_tokens=True``): ``<pad>``, ``<s>``,
``</s>``, ``<unk>``, ``<image_pad>`` (one slot of an image's tokens), ``<image>`` and ``<region>`` (prompt
placeholders). Grammar tokens (``SequenceGrammar(bins).special_tokens()``: ``<loc_k>``, ``<box>``, ``<img_k>``,
``[DET]`` …) are added as *normal* added tokens: never split, and kept when decoding, so the decoded answer text
parses with the grammar.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from ..data.record import IMAGE_PLACEHOLDER, REGION_PLACEHOLDER
from ..geometry.sequence import SequenceGrammar

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
IMAGE_PAD = "<image_pad>"
IGNORE_INDEX = -100  # the label of a position that predicts nothing (prompt, padding)
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK, IMAGE_PAD, IMAGE_PLACEHOLDER, REGION_PLACEHOLDER)
DEFAULT_VOCAB = 1000

# Any tag-like token (grammar tokens and placeholders): removed from the BPE training text, since each is one
# added token and must not shape the merges of plain text.
_TAG_RE = re.compile(r"<[^<>\s]{1,24}>|\[(?:DET|SEG|POSE|GEN)\]")


def _plain_text(texts: Iterable[str]) -> Iterator[str]:
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"tokenizer training text {i} must be a string, got {type(t).__name__}")
        for piece in _TAG_RE.split(t):
            if piece:
                yield piece


def train_tokenizer(
    texts: Iterable[str], bins: int, vocab_size: int = DEFAULT_VOCAB, min_frequency: int = 2
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE of about ``vocab_size`` entries on ``texts`` (prompts and answers; grammar tokens
    in them are ignored), then add the special and grammar tokens for ``bins`` location bins.

    Byte-level: any text encodes (no ``<unk>``) and decoding gives the text back exactly.
    """
    if not isinstance(vocab_size, int) or vocab_size < 260:
        raise ValueError(f"vocab_size must be an integer >= 260 (256 bytes + merges), got {vocab_size!r}")
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[PAD, BOS, EOS, UNK],
        show_progress=False,
    )
    tok.train_from_iterator(_plain_text(texts), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS, unk_token=UNK, pad_token=PAD)
    return add_vista_tokens(fast, bins)


def add_vista_tokens(tokenizer: PreTrainedTokenizerBase, bins: int) -> PreTrainedTokenizerBase:
    """Add (in place, and return) every token the model needs: a pad token if the tokenizer has none, the
    special placeholders, and the grammar's tokens for ``bins`` bins. Tokens already present are kept."""
    if not isinstance(tokenizer, PreTrainedTokenizerBase):
        raise TypeError(f"expected a transformers tokenizer, got {type(tokenizer).__name__}")
    if tokenizer.pad_token is None:
        tokenizer.add_special_tokens({"pad_token": PAD})
    if tokenizer.eos_token is None:
        tokenizer.add_special_tokens({"eos_token": EOS})
    # add_tokens(special_tokens=True) rather than the extra/additional special-token lists, whose key changed
    # between transformers 4 and 5: the tokens are never split and are skipped when decoding either way.
    placeholders = (IMAGE_PAD, IMAGE_PLACEHOLDER, REGION_PLACEHOLDER)
    tokenizer.add_tokens([AddedToken(t, normalized=False, special=True) for t in placeholders], special_tokens=True)
    grammar = SequenceGrammar(bins).special_tokens()
    tokenizer.add_tokens([AddedToken(t, normalized=False, special=False, single_word=False) for t in grammar])
    return tokenizer


def load_lm_tokenizer(path: str | Path, bins: int) -> PreTrainedTokenizerBase:
    """The tokenizer of a local Hugging Face LM directory (offline), extended by :func:`add_vista_tokens`."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"no language-model directory at {path} (expected a local Hugging Face folder)")
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    return add_vista_tokens(tokenizer, bins)


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerBase:
    """A tokenizer saved with ``save_pretrained`` (e.g. in a checkpoint directory), offline."""
    path = Path(path)
    if not (path / "tokenizer.json").is_file() and not (path / "tokenizer_config.json").is_file():
        raise FileNotFoundError(f"no tokenizer files (tokenizer.json) in {path}")
    return AutoTokenizer.from_pretrained(str(path), local_files_only=True)


def check_tokenizer(tokenizer: PreTrainedTokenizerBase, bins: int) -> None:
    """Raise ``ValueError`` unless every special and grammar token for ``bins`` is one token of ``tokenizer``."""
    missing = [t for t in (*SPECIAL_TOKENS[:1], IMAGE_PAD, *SequenceGrammar(bins).special_tokens())
               if tokenizer.convert_tokens_to_ids(t) in (None, tokenizer.unk_token_id)]  # fmt: skip
    if missing:
        raise ValueError(f"the tokenizer lacks {len(missing)} token(s) the model needs, e.g. {missing[:5]}; "
                         f"build it with train_tokenizer or add_vista_tokens(tokenizer, bins={bins})")  # fmt: skip

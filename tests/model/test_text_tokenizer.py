"""The BPE tokenizer keeps every grammar and special token whole and decodes answers back exactly."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import PreTrainedTokenizerFast

from vistakit.geometry import SequenceGrammar
from vistakit.model.text_tokenizer import (
    IMAGE_PAD,
    SPECIAL_TOKENS,
    add_vista_tokens,
    check_tokenizer,
    load_tokenizer,
    train_tokenizer,
)

GRAMMAR_TOKENS = SequenceGrammar(8).special_tokens()
words = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="<>"), max_size=12)
pieces = st.lists(st.one_of(st.sampled_from(GRAMMAR_TOKENS), words), max_size=12)


def test_every_grammar_and_special_token_is_one_token(tokenizer):
    for tok in GRAMMAR_TOKENS + list(SPECIAL_TOKENS):
        ids = tokenizer(tok, add_special_tokens=False)["input_ids"]
        assert len(ids) == 1, tok
        assert tokenizer.convert_ids_to_tokens(ids) == [tok]
    check_tokenizer(tokenizer, 8)
    with pytest.raises(ValueError, match="lacks .* token"):
        check_tokenizer(tokenizer, 16)  # <loc_8> .. <loc_15> are not in an 8-bin tokenizer


@settings(max_examples=60, deadline=None)
@given(pieces)
def test_answers_decode_back_exactly_and_grammar_tokens_stay_whole(tokenizer, parts):
    text = "".join(parts)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == text
    toks = tokenizer.convert_ids_to_tokens(ids)
    assert [t for t in toks if t in GRAMMAR_TOKENS] == [p for p in parts if p in GRAMMAR_TOKENS]


def test_special_tokens_are_skipped_when_decoding(tokenizer):
    ids = tokenizer(f"<s>yes{IMAGE_PAD}<box></s><pad>", add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == "yes<box>"


def test_training_ignores_tags_and_checks_inputs():
    tok = train_tokenizer(["<loc_1><loc_2> red red red"] * 3, bins=4, vocab_size=260, min_frequency=1)
    base = [t for t in tok.get_vocab() if t not in tok.get_added_vocab()]
    assert not any("loc" in t for t in base)  # tags never shape the merges of plain text
    with pytest.raises(ValueError, match="vocab_size"):
        train_tokenizer(["a"], bins=4, vocab_size=10)
    with pytest.raises(TypeError, match="text 1 must be a string"):
        train_tokenizer(["a", 3], bins=4)


def test_save_load_round_trip(tokenizer, tmp_path):
    tokenizer.save_pretrained(tmp_path)
    again = load_tokenizer(tmp_path)
    text = "<image>\nWhere?<p>red</p><box><loc_1><loc_2><loc_3><loc_7></box>"
    assert again(text)["input_ids"] == tokenizer(text)["input_ids"]
    assert again.pad_token_id == tokenizer.pad_token_id and len(again) == len(tokenizer)
    with pytest.raises(FileNotFoundError, match="no tokenizer files"):
        load_tokenizer(tmp_path / "missing")


def test_add_vista_tokens_extends_a_foreign_tokenizer(tokenizer, tmp_path):
    # A tokenizer with neither pad nor grammar tokens, as an LM directory might ship it.
    from tokenizers import Tokenizer, models, pre_tokenizers

    raw = Tokenizer(models.WordLevel({"<unk>": 0, "hi": 1, "</s>": 2}, unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="<unk>", eos_token="</s>")
    add_vista_tokens(fast, 8)
    check_tokenizer(fast, 8)
    assert fast.pad_token is not None and fast.eos_token == "</s>"
    with pytest.raises(TypeError, match="transformers tokenizer"):
        add_vista_tokens(object(), 8)

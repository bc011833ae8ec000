"""Token ids and counts identical to the tiktoken package, on a varied corpus and on random Unicode."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tokenprice

from conftest import CORPUS, ENCODINGS


@pytest.mark.parametrize("name", ENCODINGS)
def test_ids_and_counts_match_tiktoken_on_the_corpus(name: str, reference) -> None:  # type: ignore[no-untyped-def]
    ours = tokenprice.get_encoding(name)
    theirs = reference[name]
    for text in CORPUS:
        expected = theirs.encode_ordinary(text)
        assert ours.encode_ordinary(text) == expected, text[:60]
        assert ours.count(text) == len(expected), text[:60]
        assert ours.decode(expected) == text
    assert ours.count_batch(CORPUS) == [len(theirs.encode_ordinary(t)) for t in CORPUS]
    assert ours.encode_ordinary_batch(CORPUS) == theirs.encode_ordinary_batch(CORPUS)


def test_gpt2_is_r50k_base(reference) -> None:  # type: ignore[no-untyped-def]
    # tiktoken builds "gpt2" from encoder.json + vocab.bpe; its ranks are those of r50k_base.
    gpt2 = tokenprice.get_encoding("gpt2")
    for text in CORPUS:
        assert gpt2.encode_ordinary(text) == reference["r50k_base"].encode_ordinary(text)


@pytest.mark.parametrize("name", ENCODINGS)
def test_metadata_matches_tiktoken(name: str, reference) -> None:  # type: ignore[no-untyped-def]
    ours, theirs = tokenprice.get_encoding(name), reference[name]
    assert ours.name == theirs.name
    assert ours.n_vocab == theirs.n_vocab
    assert ours.max_token_value == theirs.max_token_value
    assert ours.special_tokens_set == theirs.special_tokens_set
    assert ours.eot_token == theirs.eot_token
    assert ours.pattern == theirs._pat_str


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base", "r50k_base"])
@settings(max_examples=400, deadline=None)
@given(text=st.text(max_size=300))
def test_random_unicode_matches_tiktoken(name: str, reference, text: str) -> None:  # type: ignore[no-untyped-def]
    expected = reference[name].encode_ordinary(text)
    ours = tokenprice.get_encoding(name)
    assert ours.encode_ordinary(text) == expected
    assert ours.count(text) == len(expected)


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(
        alphabet=st.sampled_from(list("aAzZ019 '\n\r\t/!.sStTlLreEvVdDmM") + ["\u0301", "\u017f", "ʰ", "中", "\u00a0"]),
        max_size=120,
    )
)
def test_pattern_edge_characters_match_tiktoken(reference, text: str) -> None:  # type: ignore[no-untyped-def]
    # Characters chosen to hit each branch of the split patterns: contractions (and the long s that case-folds to
    # s), marks, modifier letters, CJK, newlines, slashes, non-breaking space.
    for name in ["cl100k_base", "o200k_base", "p50k_base"]:
        assert tokenprice.get_encoding(name).encode_ordinary(text) == reference[name].encode_ordinary(text)


@pytest.mark.parametrize("name", ENCODINGS)
def test_special_tokens_follow_tiktoken(name: str, reference) -> None:  # type: ignore[no-untyped-def]
    ours, theirs = tokenprice.get_encoding(name), reference[name]
    text = "hi <|endoftext|> there <|fim_prefix|> and <|endofprompt|>"
    assert ours.encode(text, allowed_special="all") == theirs.encode(text, allowed_special="all")
    assert ours.encode(text, disallowed_special=()) == theirs.encode(text, disallowed_special=())
    assert ours.encode(text, allowed_special={"<|endoftext|>"}, disallowed_special=()) == theirs.encode(
        text, allowed_special={"<|endoftext|>"}, disallowed_special=()
    )
    with pytest.raises(ValueError):
        theirs.encode(text)
    with pytest.raises(tokenprice.DisallowedSpecialTokenError, match="<|endoftext|>"):
        ours.encode(text)
    # Counting never fails on user text: special-looking text is ordinary unless asked.
    assert ours.count(text) == len(theirs.encode_ordinary(text))
    assert ours.count(text, allowed_special="all") == len(theirs.encode(text, allowed_special="all"))


def test_harmony_chat_tokens(reference) -> None:  # type: ignore[no-untyped-def]
    text = "<|start|>user<|message|>What is 2+2?<|end|><|start|>assistant<|channel|>final<|message|>4<|return|>"
    ours = tokenprice.get_encoding("o200k_harmony")
    assert ours.encode(text, allowed_special="all") == reference["o200k_harmony"].encode(text, allowed_special="all")


def test_decode_and_single_tokens(reference) -> None:  # type: ignore[no-untyped-def]
    ours, theirs = tokenprice.get_encoding("cl100k_base"), reference["cl100k_base"]
    ids = theirs.encode("héllo wörld 😀")
    assert ours.decode_bytes(ids) == theirs.decode_bytes(ids)
    assert [ours.decode_single_token_bytes(i) for i in ids] == [theirs.decode_single_token_bytes(i) for i in ids]
    # A token that splits a UTF-8 character decodes like bytes.decode(errors=...).
    partial = theirs.encode("😀")[:1]
    assert ours.decode(partial) == theirs.decode(partial)
    assert ours.decode(partial, errors="ignore") == ""
    with pytest.raises(UnicodeDecodeError):
        ours.decode(partial, errors="strict")


def test_count_till_limit() -> None:
    enc = tokenprice.get_encoding("o200k_base")
    text = "word " * 1000
    n = enc.count(text)
    assert enc.count_till_limit(text, n) == n
    assert enc.count_till_limit(text, n - 1) is None
    assert enc.count_till_limit(text, 10) is None
    assert enc.count_till_limit("", 0) == 0


def _long_pieces() -> list[str]:
    import random

    rng = random.Random(13)
    n = 40_000  # past 32 KiB: pieces this long go to the linear-time encoder (cl100k, o200k), built on first need
    return [
        "a" * n,
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n)),
        " " * n + "x",
        "".join(rng.choice("!@#$%^&*()[]{};:,.<>?/|~`-_=+") for _ in range(n)),
        "x" + "".join(chr(rng.randrange(0x4E00, 0x9FFF)) for _ in range(n // 3)),
        "1" * n,
    ]


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base", "r50k_base"])
def test_very_long_pieces_match_tiktoken(name: str, reference) -> None:  # type: ignore[no-untyped-def]
    ours, theirs = tokenprice.get_encoding(name), reference[name]
    for text in _long_pieces():
        expected = theirs.encode_ordinary(text)
        assert ours.encode_ordinary(text) == expected, text[:20]
        assert ours.count(text) == len(expected), text[:20]
        assert ours.count_batch([text, "hi " + text]) == [len(expected), len(theirs.encode_ordinary("hi " + text))]

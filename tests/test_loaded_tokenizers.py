"""Tokenizers from files, offline: tiktoken-format rank files (Llama 3 style) and Hugging Face tokenizer.json."""

from __future__ import annotations

import base64
import pickle
from pathlib import Path

import pytest

import tokenprice

from conftest import CORPUS

# Llama 3's split pattern (Meta's tokenizer.py): cl100k's pattern as first published.
LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def write_rank_file(path: Path, ranks: dict[bytes, int]) -> None:
    with path.open("w") as f:
        for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
            f.write(f"{base64.b64encode(token).decode()} {rank}\n")


@pytest.fixture(scope="module")
def cl100k_ranks(reference) -> dict[bytes, int]:  # type: ignore[no-untyped-def]
    return reference["cl100k_base"]._mergeable_ranks  # type: ignore[no-any-return]


@pytest.mark.parametrize("pattern", [LLAMA3_PATTERN, r"\S+|\s+", r"[a-z]+|[^a-z]"])
def test_rank_file_with_any_pattern_matches_tiktoken(
    tmp_path: Path, tiktoken_module, cl100k_ranks, pattern: str
) -> None:  # type: ignore[no-untyped-def]
    specials = {"<|begin_of_text|>": 200000, "<|end_of_text|>": 200001}
    path = tmp_path / "tokenizer.model"
    write_rank_file(path, cl100k_ranks)
    ours = tokenprice.Encoding.from_tiktoken_file(path, pattern=pattern, special_tokens=specials, name="llama-like")
    theirs = tiktoken_module.Encoding(
        "llama-like", pat_str=pattern, mergeable_ranks=cl100k_ranks, special_tokens=specials
    )
    assert ours.name == "llama-like" and ours.kind == "tiktoken"
    for text in CORPUS:
        assert ours.encode_ordinary(text) == theirs.encode_ordinary(text), (pattern, text[:40])
    text = "<|begin_of_text|>Hello<|end_of_text|>"
    assert ours.encode(text, allowed_special="all") == theirs.encode(text, allowed_special="all")
    # Pickles by content: a worker process needs no file.
    clone = pickle.loads(pickle.dumps(ours))
    assert clone.encode_ordinary("pickled fine") == ours.encode_ordinary("pickled fine")
    assert clone.special_tokens_set == ours.special_tokens_set


def test_from_ranks_accepts_tiktoken_style_dicts(tiktoken_module, cl100k_ranks) -> None:  # type: ignore[no-untyped-def]
    ours = tokenprice.Encoding.from_ranks("c", mergeable_ranks=cl100k_ranks, pattern=LLAMA3_PATTERN)
    assert ours.count("Hello world, again") == len(
        tiktoken_module.Encoding("c", pat_str=LLAMA3_PATTERN, mergeable_ranks=cl100k_ranks, special_tokens={}).encode(
            "Hello world, again"
        )
    )


def test_bad_rank_files_name_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tiktoken"
    bad.write_text("YQ== 0\n!!notbase64 1\n")
    with pytest.raises(tokenprice.TokenizerFileError, match=r"bad.tiktoken:2: token"):
        tokenprice.Encoding.from_tiktoken_file(bad, pattern=r"\S+")
    missing_bytes = tmp_path / "small.tiktoken"
    missing_bytes.write_text("YQ== 0\n")
    with pytest.raises(tokenprice.TokenizerFileError, match="is not a token"):
        tokenprice.Encoding.from_tiktoken_file(missing_bytes, pattern=r"\S+")
    with pytest.raises(tokenprice.InputError, match="nope.tiktoken"):
        tokenprice.Encoding.from_tiktoken_file(tmp_path / "nope.tiktoken", pattern=r"\S+")
    with pytest.raises(tokenprice.InvalidArgumentError, match="not a valid regex"):
        tokenprice.Encoding.from_ranks("x", mergeable_ranks={bytes([b]): b for b in range(256)}, pattern="(unclosed")


@pytest.fixture(scope="module")
def hf_tokenizer_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small byte-level BPE tokenizer trained here with the `tokenizers` package (no download)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=800, special_tokens=["<s>", "</s>"], show_progress=False)
    tok.train_from_iterator(CORPUS * 5, trainer=trainer)
    path = tmp_path_factory.mktemp("hf") / "tokenizer.json"
    tok.save(str(path))
    return path


def test_hugging_face_tokenizer_json(hf_tokenizer_path: Path) -> None:
    from tokenizers import Tokenizer

    reference = Tokenizer.from_file(str(hf_tokenizer_path))
    ours = tokenprice.Encoding.from_tokenizer_json(hf_tokenizer_path, name="tiny-bpe")
    assert ours.kind == "huggingface" and ours.name == "tiny-bpe"
    texts = [t for t in CORPUS if t] + ["unseen wörds 😀"]
    for text in texts:
        ids = reference.encode(text, add_special_tokens=False).ids
        assert ours.encode(text) == ids
        assert ours.count(text) == len(ids)
    assert ours.count_batch(texts, num_threads=2) == [
        len(reference.encode(t, add_special_tokens=False).ids) for t in texts
    ]
    assert tokenprice.count_tokens(texts, encoding=ours) == ours.count_batch(texts)
    assert ours.decode(ours.encode("hello world")) == reference.decode(reference.encode("hello world").ids)
    clone = pickle.loads(pickle.dumps(ours))
    assert clone.count("pickled tokenizer") == ours.count("pickled tokenizer")


def test_bad_tokenizer_json(tmp_path: Path) -> None:
    path = tmp_path / "tokenizer.json"
    path.write_text('{"version": "1.0", "model": 5}')
    with pytest.raises(tokenprice.TokenizerFileError, match="not a Hugging Face tokenizer.json"):
        tokenprice.Encoding.from_tokenizer_json(path)

"""Every error path: a named TokenPriceError subclass with a message that says what was wrong and where."""

from __future__ import annotations

from pathlib import Path

import pytest

import tokenprice


def test_the_exception_tree() -> None:
    for cls in [
        tokenprice.UnknownModelError,
        tokenprice.UnknownEncodingError,
        tokenprice.TokenizerNotPublicError,
        tokenprice.DisallowedSpecialTokenError,
        tokenprice.InvalidTokenError,
        tokenprice.TokenizerFileError,
        tokenprice.InvalidTextError,
        tokenprice.InputError,
        tokenprice.InvalidArgumentError,
        tokenprice.InvalidMessageError,
        tokenprice.InternalError,
    ]:
        assert issubclass(cls, tokenprice.TokenPriceError)
        assert cls.__module__ == "tokenprice"
    assert issubclass(tokenprice.TokenPriceError, Exception)
    assert issubclass(tokenprice.DisallowedSpecialTokenError, ValueError)


@pytest.mark.parametrize("threads", [False, True])
def test_panics_become_internal_errors(threads: bool) -> None:
    from tokenprice import _core

    with pytest.raises(tokenprice.InternalError, match="deliberate test panic") as info:
        _core._panic_for_tests("deliberate test panic", threads)
    assert isinstance(info.value, Exception)  # not pyo3's PanicException (a BaseException)


def test_invalid_token_ids() -> None:
    enc = tokenprice.get_encoding("cl100k_base")
    with pytest.raises(tokenprice.InvalidTokenError, match="token id 999999 is not in encoding cl100k_base"):
        enc.decode([1, 999999])
    with pytest.raises(tokenprice.InvalidArgumentError, match=r"tokens\[0\]=-1 is out of range"):
        enc.decode([-1])
    with pytest.raises(tokenprice.InvalidTokenError):
        enc.decode_single_token_bytes(100256)  # a gap below the special tokens


def test_disallowed_special_token_names_token_and_offset() -> None:
    enc = tokenprice.get_encoding("o200k_base")
    with pytest.raises(tokenprice.DisallowedSpecialTokenError, match=r'"<\|endoftext\|>" at byte 4'):
        enc.encode("abc <|endoftext|>")


def test_count_file_errors(tmp_path: Path) -> None:
    enc = tokenprice.get_encoding("o200k_base")
    with pytest.raises(tokenprice.InputError, match="missing.txt"):
        tokenprice.count_file(tmp_path / "missing.txt", enc)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"hello\nworld \xff\xfe tail")
    with pytest.raises(tokenprice.InvalidTextError, match=r"bad.txt: invalid UTF-8 at byte 12"):
        tokenprice.count_file(bad, enc)
    assert tokenprice.count_file(bad, enc, errors="replace") == enc.count("hello\nworld \ufffd\ufffd tail")
    with pytest.raises(tokenprice.InvalidArgumentError, match="errors="):
        tokenprice.count_file(bad, enc, errors="ignore")  # type: ignore[arg-type]


def test_stream_counter_misuse() -> None:
    enc = tokenprice.get_encoding("o200k_base")
    counter = tokenprice.StreamCounter(enc)
    counter.feed(b"hello ")
    counter.feed(b"world")
    assert counter.finish() == enc.count("hello world")
    with pytest.raises(tokenprice.InvalidArgumentError, match="finish"):
        counter.feed(b"more")
    with pytest.raises(tokenprice.InvalidArgumentError, match="twice"):
        counter.finish()


def test_bad_arguments() -> None:
    enc = tokenprice.get_encoding("o200k_base")
    with pytest.raises(tokenprice.InvalidTypeError, match="each item of allowed_special must be a str, got int"):
        enc.encode("x", allowed_special={1})  # type: ignore[arg-type]
    with pytest.raises(tokenprice.InvalidArgumentError, match="encode_batch needs strings"):
        enc.encode_batch(["a", None])  # type: ignore[list-item]
    with pytest.raises(tokenprice.InvalidArgumentError, match="at most|1024"):
        enc.count_batch(["a", "b"], num_threads=5000)
    with pytest.raises(TypeError):
        enc.count(5)  # type: ignore[arg-type]

"""Every error path: a named TokenPriceError subclass with a message that says what was wrong and where."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
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


def _raise_unknown_model() -> None:
    tokenprice.encoding_for_model("no-such-model-xyz")


def _raise_unknown_encoding() -> None:
    tokenprice.get_encoding("no_such_base")


def _raise_not_public() -> None:
    tokenprice.count_tokens("hello", model="claude-sonnet-4-5")


def _raise_disallowed_special() -> None:
    tokenprice.get_encoding("cl100k_base").encode("<|endoftext|>")


def _raise_invalid_token() -> None:
    tokenprice.get_encoding("cl100k_base").decode([999999])


def _raise_tokenizer_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tiktoken"
    bad.write_text("YQ== 0\n!!notbase64 1\n")
    tokenprice.Encoding.from_tiktoken_file(bad, pattern=r"\S+")


def _raise_invalid_text(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok \xff\xfe")
    tokenprice.count_file(bad, tokenprice.get_encoding("cl100k_base"))


def _raise_input(tmp_path: Path) -> None:
    tokenprice.count_file(tmp_path / "missing.txt", tokenprice.get_encoding("cl100k_base"))


def _raise_invalid_argument() -> None:
    tokenprice.image_tokens(10, 10, "gpt-4o", detail="sharpest")


def _raise_invalid_type() -> None:
    tokenprice.Usage(input_tokens="7")


def _raise_invalid_message() -> None:
    tokenprice.count_message_tokens([{"role": "user", "content": "x"}, "not a dict"], "gpt-4o")


def _raise_unknown_provider() -> None:
    tokenprice.PriceBook.default().models(provider="no-such-provider")


def _raise_ambiguous_model() -> None:
    def host(name: str) -> dict[str, object]:
        models = [{"id": "shared-1", "prices": [{"input_per_mtok": "1", "output_per_mtok": "2"}]}]
        return {"schema": 1, "id": name, "models": models}  # neither owns the model

    tokenprice.PriceBook.from_dicts([host("host-a"), host("host-b")]).resolve("shared-1")


def _raise_no_price() -> None:
    provider = {
        "schema": 1,
        "id": "acme",
        "owns": [{"starts_with": "acme-"}],
        "service_tiers": {"priority": {}},  # no rule: each model must list its priority prices
        "models": [{"id": "acme-1", "prices": [{"input_per_mtok": "1", "output_per_mtok": "2"}]}],
    }
    book = tokenprice.PriceBook.from_dicts([provider])
    tokenprice.price(tokenprice.Usage(input_tokens=1), "acme-1", at="2025-07-01", service_tier="priority", book=book)


def _raise_invalid_usage() -> None:
    tokenprice.Usage(input_tokens=-1)


def _raise_price_book() -> None:
    tokenprice.PriceBook.from_dicts([{"schema": 2, "id": "x"}])


def _raise_usage_format() -> None:
    tokenprice.extract_usage({"foo": 1, "bar": {"baz": 2}})


def _raise_budget_store() -> None:
    import redis

    # Port 1 on the loopback: nothing listens, so the connection is refused at once.
    store = tokenprice.RedisStore(redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1), on_error="closed")
    tokenprice.Budget({"tenant": "1.00/day"}, store).check({"tenant": "acme"}, Decimal("0.01"))


def _raise_internal() -> None:
    tokenprice._core._panic_for_tests("deliberate", False)


# Every exception class tokenprice exports, a real call that raises it, and the builtin it also derives from.
RAISED_BY: dict[str, tuple[Callable[..., None], type[BaseException] | None]] = {
    "UnknownModelError": (_raise_unknown_model, KeyError),
    "UnknownEncodingError": (_raise_unknown_encoding, ValueError),
    "TokenizerNotPublicError": (_raise_not_public, None),
    "DisallowedSpecialTokenError": (_raise_disallowed_special, ValueError),
    "InvalidTokenError": (_raise_invalid_token, KeyError),
    "TokenizerFileError": (_raise_tokenizer_file, ValueError),
    "InvalidTextError": (_raise_invalid_text, ValueError),
    "InputError": (_raise_input, None),
    "InvalidArgumentError": (_raise_invalid_argument, ValueError),
    "InvalidTypeError": (_raise_invalid_type, TypeError),
    "InvalidMessageError": (_raise_invalid_message, ValueError),
    "UnknownProviderError": (_raise_unknown_provider, KeyError),
    "AmbiguousModelError": (_raise_ambiguous_model, ValueError),
    "NoPriceError": (_raise_no_price, LookupError),
    "InvalidUsageError": (_raise_invalid_usage, ValueError),
    "PriceBookError": (_raise_price_book, ValueError),
    "BudgetStoreError": (_raise_budget_store, RuntimeError),
    "UsageFormatError": (_raise_usage_format, ValueError),
    "InternalError": (_raise_internal, RuntimeError),
}


def test_every_exception_class_is_covered() -> None:
    exported = {
        name
        for name in dir(tokenprice)
        if isinstance(getattr(tokenprice, name), type)
        and issubclass(getattr(tokenprice, name), BaseException)
        and name != "TokenPriceError"
        and not issubclass(getattr(tokenprice, name), Warning)
    }
    native = {name for name in dir(tokenprice._core) if name.endswith("Error") and name != "TokenPriceError"}
    assert exported == native == set(RAISED_BY)


@pytest.mark.parametrize("name", sorted(RAISED_BY))
def test_every_exception_class_is_raised_by_a_real_call(name: str, tmp_path: Path) -> None:
    cls = getattr(tokenprice, name)
    call, builtin = RAISED_BY[name]
    with pytest.raises(cls) as info:
        call(tmp_path) if call.__code__.co_argcount else call()
    # Exactly this class (not a subclass picked by mistake), a TokenPriceError, and its builtin where declared.
    assert type(info.value) is cls
    assert isinstance(info.value, tokenprice.TokenPriceError)
    assert cls.__module__ == "tokenprice"
    if builtin is not None:
        assert isinstance(info.value, builtin)
    else:
        assert cls.__bases__ == (tokenprice.TokenPriceError,)
    assert str(info.value)

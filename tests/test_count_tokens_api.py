"""`count_tokens` on every input kind: str, list, pyarrow, polars, pandas — with nulls, indexes and chunking."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import tokenprice

TEXTS = ["Hello, world!", None, "A longer sentence with more tokens in it.", "", "中文"]


def expected(model: str = "gpt-4o") -> list[int | None]:
    enc = tokenprice.encoding_for_model(model)
    return [None if t is None else enc.count(t) for t in TEXTS]


def test_str_and_list() -> None:
    assert tokenprice.count_tokens("Hello, world!", model="gpt-4o") == 4
    assert tokenprice.count_tokens("Hello, world!", encoding="cl100k_base") == 4
    assert tokenprice.count_tokens(TEXTS, model="gpt-4o") == expected()
    assert tokenprice.count_tokens(tuple(TEXTS), model="gpt-4o") == expected()
    enc = tokenprice.get_encoding("o200k_base")
    assert tokenprice.count_tokens(TEXTS, encoding=enc) == expected()


@pytest.mark.parametrize("arrow_type", [pa.string(), pa.large_string(), pa.string_view()])
def test_pyarrow_array_in_pyarrow_array_out(arrow_type: pa.DataType) -> None:
    column = pa.array(TEXTS, type=arrow_type)
    out = tokenprice.count_tokens(column, model="gpt-4o")
    assert isinstance(out, pa.Array)
    assert out.type == pa.int64()
    assert out.to_pylist() == expected()


def test_pyarrow_chunked_array_and_dictionary() -> None:
    chunked = pa.chunked_array([TEXTS[:2], TEXTS[2:]])
    out = tokenprice.count_tokens(chunked, model="gpt-4o")
    assert isinstance(out, pa.ChunkedArray)
    assert out.to_pylist() == expected()
    dictionary = pa.array(TEXTS * 3).dictionary_encode()
    assert tokenprice.count_tokens(dictionary, model="gpt-4o").to_pylist() == expected() * 3


def test_polars_series_keeps_its_name() -> None:
    series = pl.Series("prompt", TEXTS)
    out = tokenprice.count_tokens(series, model="gpt-4o")
    assert isinstance(out, pl.Series)
    assert out.name == "prompt"
    assert out.dtype == pl.Int64
    assert out.to_list() == expected()
    categorical = pl.Series("c", TEXTS, dtype=pl.Categorical)
    assert tokenprice.count_tokens(categorical, model="gpt-4o").to_list() == expected()


@pytest.mark.parametrize("dtype", [object, "str", "string[pyarrow]", pd.ArrowDtype(pa.string())])
def test_pandas_series_keeps_index_and_name(dtype: object) -> None:
    series = pd.Series(TEXTS, index=[10, 20, 30, 40, 50], name="prompt", dtype=dtype)  # type: ignore[call-overload]
    out = tokenprice.count_tokens(series, model="gpt-4o")
    assert isinstance(out, pd.Series)
    assert list(out.index) == [10, 20, 30, 40, 50]
    assert out.name == "prompt"
    assert [None if pd.isna(v) else int(v) for v in out] == expected()
    if isinstance(dtype, pd.ArrowDtype):
        assert out.dtype == pd.ArrowDtype(pa.int64())
    else:
        assert out.dtype == "Int64"


def test_pandas_dataframe_column_roundtrip() -> None:
    df = pd.DataFrame({"prompt": ["one", "two words", None]}, index=["a", "b", "c"])
    df["tokens"] = tokenprice.count_tokens(df["prompt"], model="gpt-4.1-mini")
    assert df.loc["b", "tokens"] == 2
    assert pd.isna(df.loc["c", "tokens"])


def test_non_string_columns_are_rejected_clearly() -> None:
    with pytest.raises(tokenprice.InvalidArgumentError, match="column of strings; this column holds Int64"):
        tokenprice.count_tokens(pa.array([1, 2]), model="gpt-4o")
    # Wrong Python types are InvalidTypeError (a TypeError too).
    with pytest.raises(tokenprice.InvalidTypeError, match=r"texts\[1\] is int"):
        tokenprice.count_tokens(["a", 5], model="gpt-4o")
    with pytest.raises(tokenprice.InvalidTypeError, match="got dict"):
        tokenprice.count_tokens({"a": 1}, model="gpt-4o")


def test_model_or_encoding_required_and_exclusive() -> None:
    with pytest.raises(tokenprice.InvalidArgumentError, match="not both"):
        tokenprice.count_tokens("x", model="gpt-4o", encoding="o200k_base")
    with pytest.raises(tokenprice.InvalidArgumentError, match="pass model="):
        tokenprice.count_tokens("x")


def test_special_tokens_count_as_text_unless_allowed() -> None:
    text = "a<|endoftext|>b"
    ordinary = tokenprice.count_tokens(text, model="gpt-4o")
    special = tokenprice.count_tokens(text, model="gpt-4o", allowed_special={"<|endoftext|>"})
    assert special == 3
    assert ordinary > special
    assert tokenprice.count_tokens([text], model="gpt-4o", allowed_special="all") == [3]
    assert tokenprice.count_tokens(pa.array([text]), model="gpt-4o", allowed_special="all").to_pylist() == [3]
    with pytest.raises(tokenprice.InvalidArgumentError, match="set of special tokens"):
        tokenprice.count_tokens(text, model="gpt-4o", allowed_special="<|endoftext|>")


def test_unpublished_tokenizers_raise_unless_approximate() -> None:
    with pytest.raises(tokenprice.TokenizerNotPublicError, match="approximate=True"):
        tokenprice.count_tokens("hello", model="claude-sonnet-4-5")
    n = tokenprice.count_tokens("hello world", model="claude-sonnet-4-5", approximate=True)
    assert isinstance(n, tokenprice.ApproximateCount)
    assert n.approximate and n.model == "claude-sonnet-4-5" and n.encoding == tokenprice.APPROXIMATION_ENCODING
    assert int(n) == tokenprice.count_tokens("hello world", encoding=tokenprice.APPROXIMATION_ENCODING)
    assert "approximate" not in repr(tokenprice.count_tokens("x", model="gpt-4o"))
    counts = tokenprice.count_tokens(["a b", None], model="gemini-2.5-pro", approximate=True)
    assert isinstance(counts[0], tokenprice.ApproximateCount) and counts[1] is None
    with pytest.warns(tokenprice.ApproximationWarning, match="gemini-2.5-pro"):
        column = tokenprice.count_tokens(pd.Series(["a b"]), model="gemini-2.5-pro", approximate=True)
    assert column.attrs["tokenprice.approximate"]["model"] == "gemini-2.5-pro"
    # An exact model stays exact even with approximate=True.
    assert type(tokenprice.count_tokens("x", model="gpt-4o", approximate=True)) is int


def test_encoding_count_batch_accepts_columns_too() -> None:
    enc = tokenprice.get_encoding("o200k_base")
    assert enc.count_batch(pa.array(TEXTS)).to_pylist() == expected()
    assert enc.count_batch(TEXTS) == expected()

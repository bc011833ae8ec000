"""The Arrow PyCapsule interface both ways (`src/py/capsule.rs`): every shape of Arrow data pyarrow, polars and
pandas hand over is read in place, what the extension hands back is read by each of them, and an object that only
pretends to speak Arrow is a TokenPriceError naming the argument, never a crash."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import tokenprice as tp
from tokenprice import _core

AT = dt.datetime(2025, 6, 1, tzinfo=dt.timezone.utc)
TEXTS = ["hello world", None, "tokens, counted", ""]


def _expected() -> list[int | None]:
    enc = tp.get_encoding("o200k_base")
    return [None if t is None else enc.count(t) for t in TEXTS]


def _chunked(texts: list[str | None], type_: pa.DataType) -> pa.ChunkedArray:
    return pa.chunked_array([pa.array(texts[:1], type_), pa.array([], type_), pa.array(texts[1:], type_)], type_)


@pytest.mark.parametrize(
    "make",
    [
        lambda: pa.array(TEXTS),
        lambda: pa.array(TEXTS, pa.large_string()),
        lambda: pa.array(TEXTS, pa.string_view()),
        lambda: _chunked(TEXTS, pa.string()),
        lambda: _chunked(TEXTS, pa.string_view()),
        lambda: pa.array(TEXTS).dictionary_encode(),
        lambda: pa.chunked_array([pa.array(TEXTS[:2]).dictionary_encode(), pa.array(TEXTS[2:]).dictionary_encode()]),
        lambda: pl.Series("t", TEXTS),
        lambda: pl.Series("t", TEXTS, dtype=pl.Categorical),
        lambda: pd.Series(TEXTS, dtype="string[pyarrow]"),
        lambda: pd.Series(TEXTS, dtype="category"),
    ],
    ids=[
        "array",
        "large_string",
        "string_view",
        "chunked_with_empty_chunk",
        "chunked_string_view",
        "dictionary",
        "chunked_dictionaries",
        "polars",
        "polars_categorical",
        "pandas_arrow_string",
        "pandas_category",
    ],
)
def test_string_columns_of_every_kind_are_counted_in_place(make: Any) -> None:
    column = make()
    counts = tp.count_tokens(column, encoding="o200k_base")
    values = counts.to_list() if hasattr(counts, "to_list") else counts.to_pylist()
    values = [None if v is None or v is pd.NA else int(v) for v in values]
    assert values == _expected()


def test_the_raw_column_result_is_read_by_pyarrow_and_polars() -> None:
    raw = _core.count_column(tp.get_encoding("o200k_base"), pa.array(TEXTS))
    assert isinstance(raw, _core.ArrowArray) and len(raw) == len(TEXTS)
    assert pa.array(raw).to_pylist() == _expected()
    assert pa.array(raw).to_pylist() == _expected()  # exported twice: each export is its own
    assert pl.Series("n", raw).to_list() == _expected()
    assert "int64" in repr(raw).lower()


TABLE = {"model": ["gpt-4o", "gpt-4o-mini"], "input_tokens": [1_000_000, 2_000_000], "output_tokens": [0, 1_000_000]}


@pytest.mark.parametrize(
    "make",
    [
        lambda: pa.table(TABLE),
        lambda: pa.record_batch(TABLE),
        lambda: pa.RecordBatchReader.from_batches(pa.table(TABLE).schema, pa.table(TABLE).to_batches(max_chunksize=1)),
        lambda: pa.table({**TABLE, "model": pa.array(TABLE["model"], pa.string_view())}),
        lambda: pl.DataFrame(TABLE),
        lambda: pd.DataFrame(TABLE),
    ],
    ids=["table", "record_batch", "reader_of_one_row_batches", "string_view_model", "polars", "pandas"],
)
def test_tables_of_every_kind_are_priced(make: Any) -> None:
    result = tp.price_table(make(), default_at=AT)
    totals = result["total_cost"].to_list() if hasattr(result, "to_list") else None
    if isinstance(result, pa.Table):
        totals = result.column("total_cost").to_pylist()
    elif isinstance(result, pd.DataFrame):
        totals = list(result["total_cost"])
    else:
        totals = result["total_cost"].to_list()
    gpt4o = tp.price(tp.Usage(input_tokens=1_000_000), "gpt-4o", at=AT).total
    mini = tp.price(tp.Usage(input_tokens=2_000_000, output_tokens=1_000_000), "gpt-4o-mini", at=AT).total
    assert [Decimal(str(t)) for t in totals] == [gpt4o, mini]


def test_the_raw_table_result_is_read_by_pyarrow_and_polars() -> None:
    raw = _core.price_arrow_table(pa.table(TABLE), default_at=AT)
    assert isinstance(raw, _core.ArrowTable) and raw.num_rows == len(raw) == 2
    first = pa.RecordBatchReader.from_stream(raw).read_all()
    second = pa.table(raw)  # a second export gives the same rows
    assert first.equals(second) and first.num_rows == 2
    assert pl.DataFrame(raw).height == 2
    assert "total_cost" in repr(raw)


class _NotArrow:
    pass


class _StreamReturnsNumber:
    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        return 5


class _ArrayReturnsWrongTuple:
    def __arrow_c_array__(self, requested_schema: object = None) -> object:
        return (1,)


class _StreamRaises:
    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        raise RuntimeError("producer broke")


class _WrongCapsule:
    """A stream export that hands over an array schema capsule instead of a stream capsule."""

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        return pa.array([1]).__arrow_c_array__()[0]


@pytest.mark.parametrize("bad", [_NotArrow(), _StreamReturnsNumber(), _ArrayReturnsWrongTuple(), _WrongCapsule()])
def test_objects_that_only_pretend_to_speak_arrow_are_errors(bad: object) -> None:
    with pytest.raises(tp.TokenPriceError):
        _core.price_arrow_table(bad, default_at=AT)
    with pytest.raises(tp.TokenPriceError):
        _core.count_column(tp.get_encoding("o200k_base"), bad)


def test_a_producer_that_raises_raises_its_own_error() -> None:
    with pytest.raises(RuntimeError, match="producer broke"):
        _core.price_arrow_table(_StreamRaises(), default_at=AT)


def test_a_stream_that_fails_midway_names_the_argument() -> None:
    schema = pa.schema([("model", pa.string()), ("input_tokens", pa.int64())])

    def batches() -> Any:
        yield pa.record_batch({"model": ["gpt-4o"], "input_tokens": [1]}, schema=schema)
        raise ValueError("disk went away")

    reader = pa.RecordBatchReader.from_batches(schema, batches())
    with pytest.raises(tp.InvalidArgumentError, match=r"table: reading its Arrow data: .*disk went away"):
        _core.price_arrow_table(reader, default_at=AT)


def test_a_column_where_a_table_is_expected_is_named() -> None:
    with pytest.raises(tp.InvalidTypeError, match="table must be a table"):
        _core.price_arrow_table(pa.chunked_array([["a"]]), default_at=AT)


def test_a_table_without_columns_keeps_its_rows() -> None:
    # No count column: the pricing rules refuse it by name, not the Arrow import ("at least one column").
    with pytest.raises(tp.InvalidArgumentError) as caught:
        _core.price_arrow_table(pa.table({"x": [1, 2]}).drop_columns(["x"]), default_at=AT)
    assert "column" in str(caught.value) and "row count" not in str(caught.value)


class _StructWithNullRows:
    """A struct column (with a row that is null as a whole) exported as if it were a table."""

    def __arrow_c_array__(self, requested_schema: object = None) -> object:
        rows = pa.array(
            [{"model": "gpt-4o", "input_tokens": 1}, None],
            pa.struct([("model", pa.string()), ("input_tokens", pa.int64())]),
        )
        return rows.__arrow_c_array__()


def test_rows_null_as_a_whole_are_not_a_table() -> None:
    with pytest.raises(tp.InvalidArgumentError, match="1 rows are null as a whole"):
        _core.price_arrow_table(_StructWithNullRows(), default_at=AT)


class _OneShotStream:
    """An Arrow stream that can be read once (as a database cursor or a network reader is), of no known class."""

    def __init__(self) -> None:
        table = pa.table(TABLE).replace_schema_metadata({"origin": "cursor"})
        self.reader: Any = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=1))

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        reader, self.reader = self.reader, None
        assert reader is not None, "the stream was read twice"
        return reader.__arrow_c_stream__(requested_schema)


def test_a_one_shot_stream_keeps_its_columns_read_once() -> None:
    result = tp.price_table(_OneShotStream(), default_at=AT, keep_columns=True)
    assert result.column_names[:3] == ["model", "input_tokens", "output_tokens"]
    assert result.column("input_tokens").to_pylist() == TABLE["input_tokens"]
    assert result.num_rows == 2 and result.column("total_cost").null_count == 0
    metadata = result.schema.metadata
    assert metadata[b"origin"] == b"cursor" and b"usage_convention" in metadata
    plain = tp.price_table(pa.table(TABLE), default_at=AT)
    assert result.select(plain.column_names).to_pylist() == plain.to_pylist()

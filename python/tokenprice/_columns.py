"""Arrow-compatible columns in and out: the counts come back as a column of the caller's own kind."""

from __future__ import annotations

import json
import math
from typing import Any

from tokenprice import _core
from tokenprice._core import Encoding


def is_column(data: object) -> bool:
    """Whether ``data`` speaks the Arrow PyCapsule interface (pyarrow, polars, pandas >= 2.2, arro3, ...)."""
    return hasattr(data, "__arrow_c_stream__") or hasattr(data, "__arrow_c_array__")


def arrow_table(result: Any) -> Any:
    """A pyarrow table of a table the extension made, read through the Arrow stream interface (``pa.table`` would
    first check for a pandas DataFrame, importing pandas: 0.2 s on a first call)."""
    import pyarrow as pa

    from_stream = getattr(pa.RecordBatchReader, "from_stream", None)  # pyarrow >= 15
    return pa.table(result) if from_stream is None else from_stream(result).read_all()


def library_of(data: object) -> str:
    """The library an input comes from, by its type's top-level module (``pandas``, ``polars``, ``pyarrow``, ...)."""
    return type(data).__module__.split(".", 1)[0]


def count_column(
    encoding: Encoding, data: Any, *, allowed_special: Any = frozenset(), num_threads: int | None = None
) -> Any:
    """Counts a string column; returns the counts as the same kind of column (Int64, nulls kept)."""
    raw = _core.count_column(encoding, data, allowed_special=allowed_special, num_threads=num_threads)
    return like_input(data, raw)


def like_input(data: Any, raw: Any) -> Any:
    """Wraps ``raw`` (an object exporting an Arrow array) as the kind of column ``data`` is."""
    kind = library_of(data)
    if kind == "pandas":
        import pandas as pd
        import pyarrow as pa

        arrow = pa.array(raw)
        if isinstance(data.dtype, pd.ArrowDtype):
            values = pd.array(arrow, dtype=pd.ArrowDtype(pa.int64()))
        else:
            values = pd.array(arrow.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get), dtype="Int64")
        return pd.Series(values, index=data.index, name=data.name)
    if kind == "polars":
        import polars as pl

        try:
            return pl.Series(data.name, raw).alias(data.name)
        except (TypeError, ValueError):  # older polars: go through pyarrow
            import pyarrow as pa

            return pl.Series(data.name, pa.array(raw))
    try:
        import pyarrow as pa
    except ImportError:  # no pyarrow: hand back the Arrow object itself (it exports __arrow_c_array__)
        return raw
    array = pa.array(raw)
    if isinstance(data, pa.ChunkedArray):
        return pa.chunked_array([array], type=array.type)
    return array


# How money reaches pandas and polars (one default everywhere: docs/pricing-logs.md, "Money in pandas and polars").
# "decimal" keeps it exact: Python Decimals in pandas (Arrow's decimal arithmetic there overflows: a difference of
# two decimal128(38, 18) needs precision 39, a division by a count 58), Decimal(38, 18) in polars. "float" casts
# each money column to float64, which every plotting and statistics library takes, at a float's precision.
MONEY = ("decimal", "float")


def check_money(money: object) -> str:
    """``money=`` as given, or an error naming the valid values."""
    if not isinstance(money, str) or money not in MONEY:
        raise _core.InvalidArgumentError(f"money must be one of {MONEY}, not {money!r}")
    return money


def money_as(table: Any, money: str) -> Any:
    """A pyarrow table with its money (decimal) columns as ``money`` says: kept decimal128, or cast to float64."""
    import pyarrow as pa

    check_money(money)
    if money == "decimal":
        return table
    for index, field in enumerate(table.schema):
        if pa.types.is_decimal(field.type):
            table = table.set_column(index, pa.field(field.name, pa.float64()), table.column(index).cast(pa.float64()))
    return table


def to_pandas(table: Any, money: str) -> Any:
    """A pyarrow table as a pandas frame: money as Python Decimals (exact) or float64, counts as pandas' nullable
    integers (a Decimal divided by an Arrow-backed count would go back through Arrow's decimal arithmetic and
    overflow), every other column in its Arrow type (``pd.ArrowDtype``: zoned timestamps, strings)."""
    import pandas as pd
    import pyarrow as pa

    def dtype(kind: Any) -> Any:
        if pa.types.is_integer(kind):
            return pd.api.types.pandas_dtype(str(kind).capitalize().replace("Uint", "UInt"))
        # None: pyarrow's own conversion (object Decimals for decimals, numpy float64 with NaN for float money).
        if pa.types.is_decimal(kind) or (money == "float" and pa.types.is_float64(kind)):
            return None
        return pd.ArrowDtype(kind)

    return money_as(table, money).to_pandas(types_mapper=dtype)


def to_polars(table: Any, money: str) -> Any:
    """A pyarrow table as a polars frame: money as Decimal(38, 18) (exact; polars does its arithmetic) or Float64."""
    import polars as pl

    return pl.from_arrow(money_as(table, money))


def json_text(record: Any) -> str:
    """A record as JSON text. JSON has no NaN or infinity: a float that is one is written as its name in text
    (``"NaN"``, ``"Infinity"``, ``"-Infinity"``), as ``extract_usage`` reads it (src/py/convert.rs), so a count
    that is one is a reject naming its field (``"NaN" is not a number``), never a line that is not JSON. A record
    holding itself raises ``ValueError``."""
    try:
        return json.dumps(record, default=str, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(record, set()), default=str)


def _finite(value: Any, open_: set[int]) -> Any:
    """``value`` with its non-finite floats as their names (``json_text``); a container on its own path raises."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, (dict, list, tuple)):
        if id(value) in open_:
            raise ValueError("Circular reference detected")
        open_.add(id(value))
        if isinstance(value, dict):
            out: Any = {k: _finite(v, open_) for k, v in value.items()}
        else:
            out = [_finite(v, open_) for v in value]
        open_.discard(id(value))
        return out
    return value

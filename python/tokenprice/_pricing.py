"""`price_table`: price every row of an Arrow-compatible table (pyarrow, polars, pandas, DuckDB results)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tokenprice import _core
from tokenprice._columns import arrow_table, check_money, library_of, to_pandas, to_polars
from tokenprice._core import PriceBook


def price_table(
    data: Any,
    *,
    book: PriceBook | None = None,
    model: str = "model",
    timestamp: str | None = "timestamp",
    provider: str | None = None,
    service_tier: str | None = None,
    region: str | None = None,
    cache_hit: str | None = None,
    columns: Mapping[str, str] | None = None,
    default_at: Any = None,
    input_excludes_cache: bool | None = None,
    itemized: bool = False,
    money: str = "decimal",
    as_float: bool = False,
    keep_columns: bool = True,
    num_threads: int | None = None,
) -> Any:
    """Prices every row of a table of usage rows; returns a table of the same kind with the costs added.

    Columns are found by name: ``model`` and ``timestamp`` (``timestamp="ts"`` names another; ``default_at=`` instead
    prices every row at one date — old rows are never priced at today's rate silently), and, when present, ``provider``,
    ``service_tier``, ``region``, ``cache_hit`` (a gateway cache hit costs nothing). Count columns are recognised by
    their names in tokenprice's, OpenAI's, Anthropic's, Bedrock's, Gemini's, the AI SDK's, OpenTelemetry's or
    Cloudflare's convention, whose cache rule is chosen from the whole set of names (``usage_convention`` in the
    result's schema metadata, or ``attrs`` for pandas and polars, says which); ``columns={"input_tokens": "my_input",
    ...}`` maps other names and ``input_excludes_cache=`` sets the rule. A table with no count column, two columns for
    one count, a mix of conventions with no single reading, or an input column named like a result column raises
    ``InvalidArgumentError``.

    Added columns: ``total_cost`` (exact: decimal128(38, 18) in Arrow, Python Decimals in pandas, Decimal(38, 18)
    in polars; float64 with ``money="float"``, for which ``as_float=True`` is the older name), one ``*_cost``
    column per usage column with ``itemized=True``, ``priced_model``, ``priced_provider``, ``priced_region`` (the
    row's region when it was priced in one), ``price_from`` (the
    price entry's first day) and ``status`` (null when priced, else why the row could not be: a null, NaN,
    negative, fractional or too large count, a time outside the years 1 to 9999, ...). Every row is priced or has
    a status: rows in = priced + rejected. An input ``status`` column (``extract_usages`` gives one: whether the
    record was read) is kept as ``input_status``, so ``price_table(extract_usages(...))`` works.
    """
    check_money(money)
    if as_float:
        money = "float"
    result = _core.price_arrow_table(
        _arrow_input(data),
        book=book,
        model=model,
        timestamp=timestamp,
        provider=provider,
        service_tier=service_tier,
        region=region,
        cache_hit=cache_hit,
        counts=dict(columns or {}),
        default_at=default_at,
        input_excludes_cache=input_excludes_cache,
        itemized=itemized,
        as_float=money == "float",
        keep_columns=keep_columns,
        num_threads=num_threads,
    )
    return _like_input(data, result, keep_columns, money)


def _arrow_input(data: Any) -> Any:
    """A pandas frame as an Arrow table (a column pyarrow cannot convert, such as numbers mixed with text in an
    object column, is named in an InvalidTypeError); other tables as they are."""
    import pyarrow as pa

    if library_of(data) != "pandas":
        if hasattr(data, "__arrow_c_stream__") or hasattr(data, "__arrow_c_array__"):
            return data
        try:  # a dict of columns, a list of arrays: what pyarrow itself takes as a table
            return pa.table(data)
        except (TypeError, ValueError, pa.ArrowException) as e:
            raise _core.InvalidTypeError(
                f"data must be a pyarrow, polars or pandas table (or any Arrow table), got {type(data).__name__}: {e}"
            ) from None

    try:
        return pa.Table.from_pandas(data, preserve_index=False)
    except (pa.ArrowTypeError, pa.ArrowInvalid, TypeError, ValueError) as e:
        for name in data.columns:
            try:
                pa.array(data[name], from_pandas=True)
            except (pa.ArrowTypeError, pa.ArrowInvalid, TypeError, ValueError) as col_error:
                kinds = sorted({type(v).__name__ for v in data[name]})
                raise _core.InvalidTypeError(
                    f"column {name!r} cannot be read as one Arrow type (it holds {', '.join(kinds)}): {col_error}"
                ) from None
        raise _core.InvalidTypeError(f"the table cannot be read as Arrow: {e}") from None


def _like_input(data: Any, result: Any, keep_columns: bool, money: str) -> Any:
    """The result as the kind of table `data` is. With `keep_columns` the engine's result already holds the input's
    columns (an Arrow stream is read once); a pandas or polars frame keeps its own columns instead (their dtypes
    and index), beside the priced ones."""
    kind = library_of(data)
    table = arrow_table(result)
    if kind not in ("polars", "pandas"):
        return table
    if keep_columns:
        table = table.select(table.column_names[len(data.columns) :])
    # An input column the result would repeat (extract_usages' `status`) is kept under the core's other name.
    renamed = dict(_core.RENAMED_BESIDE)
    convention = (table.schema.metadata or {}).get(b"usage_convention")
    attrs = {} if convention is None else {"usage_convention": convention.decode()}
    if kind == "polars":
        import polars as pl

        frame = to_polars(table, money)
        kept = data.rename({k: v for k, v in renamed.items() if k in data.columns})
        out = pl.concat([kept, frame], how="horizontal") if keep_columns else frame
        # polars keeps no table metadata: the rule goes in an `attrs` dict as pandas has it, a plain attribute of
        # this frame (polars defines none) that its operations do not carry into the frames they return
        # (docs/pricing.md).
        vars(out)["attrs"] = attrs
        return out
    import pandas as pd

    frame = to_pandas(table, money)
    frame.index = data.index
    out = pd.concat([data.rename(columns=renamed), frame], axis=1) if keep_columns else frame
    out.attrs.update(attrs)
    return out

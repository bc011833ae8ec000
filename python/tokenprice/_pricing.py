"""`price_table`: price every row of an Arrow-compatible table (pyarrow, polars, pandas, DuckDB results)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tokenprice import _core
from tokenprice._columns import arrow_table
from tokenprice._core import PriceBook

# Optional columns looked up under these names unless told otherwise.
OPTIONAL_ROLES = ("provider", "service_tier", "region", "cache_hit")


def _column_names(data: Any) -> list[str]:
    kind = type(data).__module__.split(".", 1)[0]
    if kind in ("pandas", "polars"):
        return [str(c) for c in data.columns]
    names = getattr(data, "column_names", None)
    if names is not None:
        return list(names)
    schema = getattr(data, "schema", None)
    if schema is not None and hasattr(schema, "names"):
        return list(schema.names)
    import pyarrow as pa

    return list(pa.table(data).column_names)


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
    input_excludes_cache: bool = False,
    itemized: bool = False,
    as_float: bool = False,
    keep_columns: bool = True,
    num_threads: int | None = None,
) -> Any:
    """Prices every row of a table of usage rows; returns a table of the same kind with the costs added.

    Columns are found by name: ``model`` and ``timestamp`` (required unless ``default_at=`` is given — old rows
    are never priced at today's rate silently), and, when present, ``provider``, ``service_tier``, ``region``,
    ``cache_hit`` (a gateway cache hit costs nothing) and any ``Usage`` field (``input_tokens``,
    ``output_tokens``, ``cache_read_tokens``, ...). Pass a name to use another column for a role, and
    ``columns={"input_tokens": "prompt_tokens", ...}`` for usage fields. ``input_excludes_cache=True`` is for
    sources whose input count leaves out cache reads and writes (Anthropic, Bedrock).

    Added columns: ``total_cost`` (decimal128(38, 18), exact; float64 with ``as_float=True``), one ``*_cost``
    column per usage column with ``itemized=True``, ``priced_model``, ``priced_provider``, ``price_from`` (the
    price entry's first day) and ``status`` (null when priced, else why the row could not be). Every row is
    priced or has a status: rows in = priced + rejected.
    """
    names = _column_names(data)
    present = set(names)
    mapping: dict[str, str] = {"model": model}
    if timestamp is not None and (timestamp in present or timestamp != "timestamp"):
        mapping["timestamp"] = timestamp
    for role, given in zip(OPTIONAL_ROLES, (provider, service_tier, region, cache_hit), strict=True):
        if given is not None:
            mapping[role] = given
        elif role in present:
            mapping[role] = role
    explicit = dict(columns or {})
    for field in _core.usage_fields():
        if field in explicit:
            mapping[field] = explicit.pop(field)
        elif field in present:
            mapping[field] = field
    if explicit:
        raise _core.InvalidArgumentError(
            f"columns= names {sorted(explicit)}, which are not usage fields; fields are: {_core.usage_fields()}"
        )
    result = _core.price_arrow_table(
        data,
        book=book,
        columns=mapping,
        default_at=default_at,
        input_excludes_cache=input_excludes_cache,
        itemized=itemized,
        as_float=as_float,
        num_threads=num_threads,
    )
    return _like_input(data, result, keep_columns)


def _like_input(data: Any, result: Any, keep_columns: bool) -> Any:
    """The result columns as the kind of table `data` is, next to its own columns if `keep_columns`."""
    kind = type(data).__module__.split(".", 1)[0]
    if kind == "polars":
        import polars as pl

        out = pl.DataFrame(result)
        return pl.concat([data, out], how="horizontal") if keep_columns else out
    import pyarrow as pa

    table = arrow_table(result)
    if kind == "pandas":
        import pandas as pd

        frame = table.to_pandas(types_mapper=pd.ArrowDtype)
        frame.index = data.index
        return pd.concat([data, frame], axis=1) if keep_columns else frame
    if not keep_columns:
        return table
    source = data if isinstance(data, pa.Table) else pa.table(data)
    if isinstance(data, pa.RecordBatch):
        source = pa.Table.from_batches([data])
    for name, column in zip(table.column_names, table.columns, strict=True):
        source = source.append_column(name, column)
    return source

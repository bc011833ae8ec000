"""`extract_usages`: many provider responses or log records at once, as one Arrow table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tokenprice import _core
from tokenprice._columns import arrow_table, library_of
from tokenprice._core import InvalidArgumentError, InvalidTypeError


def extract_usages(
    records: Any,
    *,
    provider: str | None = None,
    format: str | None = None,
    model: str | None = None,
    at: Any = None,
    mapping: Mapping[str, Any] | None = None,
    num_threads: int | None = None,
    labels: str | Sequence[str] | None = None,
    approximate: bool = False,
) -> Any:
    """Reads many records on all cores and returns a ``pyarrow.Table``, one row per record.

    ``records`` is a list (dicts, JSON ``str`` or ``bytes``, SDK response objects) or an Arrow-compatible column
    of JSON strings (pyarrow, polars, pandas with Arrow strings). A container — a Cloudflare Logs API page
    (``{"success": ..., "result": [...]}``), an OTLP export, a JSON array of records — gives one row per record
    inside it; ``source_index`` says which input each row came from. Nothing is dropped: a record that cannot be
    read is a row with ``status == "rejected"`` and its ``error``.

    Columns: ``source_index``, ``id``, ``format``, ``provider``, ``model``, ``served_model``, ``timestamp``
    (UTC), the usage counts (``input_tokens`` ... and any other field a row uses), ``service_tier``,
    ``region``, ``cache_hit``, ``status``, ``usage_source``, ``status_code``, ``reported_cost`` (decimal128(38,
    18), exact), ``parts``, ``error``, then one string column per metadata label (``tenant``, ``feature``, ...).

    A pandas DataFrame is read one record per row, as the same records read from a file: a missing value (pandas
    shows ``NaN`` for a null count) is a null; a NaN that is a value (in a pyarrow-backed column, or a float in a
    dict) is a reject naming the field.

    Records without usage but with their request and response texts (a stream sent without
    ``stream_options.include_usage``) are counted with the model's tokenizer, as ``price_logs`` counts them:
    ``usage_source`` is ``counted`` (``reported`` for usage the source gave); on a model whose tokenizer is not
    public (Claude, Gemini) such a record is rejected, unless ``approximate=True`` (estimated with o200k_base,
    ``approximate``).

    ``labels=["tenant", ...]``: the label columns given up front — exactly those (null where a record has none),
    and every usage count — so the tables of many batches (an engine's partitions) share one schema whatever
    labels each batch holds.
    """
    kind = library_of(records)
    if kind == "polars":
        records = records.to_arrow()
    elif kind == "pandas":
        records = _pandas_records(records)
    result = _core.extract_usages(
        records,
        provider=provider,
        format=format,
        model=model,
        at=at,
        mapping=mapping,
        num_threads=num_threads,
        labels=None if labels is None else _label_list(labels),
        approximate=approximate,
    )
    return arrow_table(result)


def _label_list(labels: str | Sequence[str]) -> list[str]:
    from tokenprice._batches import _labels

    return _labels(labels)


def _pandas_records(records: Any) -> Any:
    """A pandas DataFrame as one dict per row (missing values as None, as a file's nulls read); a Series of JSON
    text as an Arrow column, and any other Series as a list of its items (missing items as None)."""
    import pandas as pd

    if isinstance(records, pd.DataFrame):
        columns = [str(c) for c in records.columns]
        if len(set(columns)) != len(columns):
            raise InvalidArgumentError(f"the frame's column names repeat: {columns}")
        missing = records.isna().to_numpy()
        rows = records.to_numpy(dtype=object)
        return [
            {c: None if gone else _plain(v) for c, v, gone in zip(columns, row, nulls, strict=True)}
            for row, nulls in zip(rows, missing, strict=True)
        ]
    if isinstance(records, pd.Series):
        if records.dtype != object:
            import pyarrow as pa

            try:
                return pa.array(records)
            except (pa.ArrowException, TypeError, ValueError) as e:
                raise InvalidTypeError(f"records (a pandas Series of {records.dtype}) cannot be read: {e}") from None
        return [None if _missing(v) else v for v in records.tolist()]
    kind = type(records).__name__
    raise InvalidTypeError(f"records must be a list, an Arrow column or a pandas DataFrame, got {kind}")


def _missing(value: Any) -> bool:
    import pandas as pd

    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)


def _plain(value: Any) -> Any:
    """A frame cell as the JSON value a file would hold: numpy scalars as Python numbers, timestamps as text."""
    item = getattr(value, "item", None)
    if item is not None and type(value).__module__ == "numpy":
        return item()
    isoformat = getattr(value, "isoformat", None)
    if isoformat is not None:
        return isoformat()
    return value

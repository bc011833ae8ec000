"""`extract_usages`: many provider responses or log records at once, as one Arrow table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tokenprice import _core
from tokenprice._columns import arrow_table


def extract_usages(
    records: Any,
    *,
    provider: str | None = None,
    format: str | None = None,
    model: str | None = None,
    at: Any = None,
    mapping: Mapping[str, Any] | None = None,
    num_threads: int | None = None,
) -> Any:
    """Reads many records on all cores and returns a ``pyarrow.Table``, one row per record.

    ``records`` is a list (dicts, JSON ``str`` or ``bytes``, SDK response objects) or an Arrow-compatible column
    of JSON strings (pyarrow, polars, pandas with Arrow strings). A container — a Cloudflare Logs API page
    (``{"success": ..., "result": [...]}``), an OTLP export, a JSON array of records — gives one row per record
    inside it; ``source_index`` says which input each row came from. Nothing is dropped: a record that cannot be
    read is a row with ``status == "rejected"`` and its ``error``.

    Columns: ``source_index``, ``id``, ``format``, ``provider``, ``model``, ``served_model``, ``timestamp``
    (UTC), the usage counts (``input_tokens`` ... and any other field a row uses), ``service_tier``,
    ``region``, ``cache_hit``, ``status``, ``status_code``, ``reported_cost`` (decimal128(38, 18), exact),
    ``parts``, ``error``, then one string column per metadata label (``tenant``, ``feature``, ...).
    """
    import pyarrow as pa

    kind = type(records).__module__.split(".", 1)[0]
    if kind == "polars":
        records = records.to_arrow()
    elif kind == "pandas":
        records = pa.array(records)
    result = _core.extract_usages(
        records,
        provider=provider,
        format=format,
        model=model,
        at=at,
        mapping=mapping,
        num_threads=num_threads,
    )
    return arrow_table(result)

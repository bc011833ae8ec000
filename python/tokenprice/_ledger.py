"""`price_logs`: price historical logs, every record at the price in force when it ran, and summarize the cost
by any label (tenant, feature, conversation, ...) and period."""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from tokenprice import _core
from tokenprice._core import PriceBook

COST_COLUMNS = ["input_cost", "cache_read_cost", "cache_write_cost", "output_cost", "other_cost", "total_cost"]
PERIODS = ("day", "week", "month")


def _paths(source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[str]:
    """Paths and globs, expanded in order; a pattern that matches nothing is an error, not an empty result."""
    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    out: list[str] = []
    for item in items:
        text = os.fspath(item)
        if any(c in text for c in "*?["):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise _core.InputError(f"{text}: no file matches this pattern")
            out.extend(matches)
        elif not Path(text).is_file():
            raise _core.InputError(f"{text}: no such file")
        else:
            out.append(text)
    return out


class PricedLogs:
    """The priced lines of a log (``.table``), the records that could not be priced (``.rejects``) and the counts:
    ``rows_read == rows_priced + rows_rejected``."""

    def __init__(self, table: Any, rejects: Any, rows_read: int) -> None:
        import pyarrow as pa

        self.table: pa.Table = pa.table(table)
        self.rejects: pa.Table = pa.table(rejects)
        self.rows_read = rows_read
        self.rows_priced = self.table.num_rows
        self.rows_rejected = self.rejects.num_rows
        self.last_summary: Any = None
        if self.rows_priced + self.rows_rejected != self.rows_read:
            raise _core.InternalError(
                f"rows read ({rows_read}) != priced ({self.rows_priced}) + rejected ({self.rows_rejected})"
            )

    def __repr__(self) -> str:
        total = self.total_cost
        return (
            f"<PricedLogs {self.rows_read} rows read: {self.rows_priced} priced, {self.rows_rejected} rejected; "
            f"total {total} USD>"
        )

    @property
    def total_cost(self) -> Decimal:
        """The exact total of every priced line."""
        import pyarrow.compute as pc

        value = pc.sum(self.table.column("total_cost")).as_py()
        return Decimal(0) if value is None else Decimal(value)

    def summary(self, by: str | Sequence[str] | None = None, period: str | None = None, tz: str = "UTC") -> Any:
        """Totals per group: the ``by`` columns (labels such as tenant or feature, or any column of ``.table``),
        a ``period`` column (the day, ISO week — starting Monday — or month, in time zone ``tz``) when asked,
        ``rows``, the cost columns and ``total_cost`` (exact decimal sums), ``reported_cost``. The read, priced and
        rejected counts are in the schema metadata."""
        import pyarrow as pa
        import pyarrow.compute as pc

        keys = [by] if isinstance(by, str) else list(by or [])
        table = self.table
        for key in keys:
            if key not in table.column_names:
                labels = [c for c in table.column_names if c not in _FIXED and not c.endswith("_tokens")]
                raise _core.InvalidArgumentError(f"no column {key!r} to group by; labels in these logs: {labels}")
        if period is not None:
            if period not in PERIODS:
                raise _core.InvalidArgumentError(f"period must be one of {PERIODS} or None, not {period!r}")
            local = table.column("timestamp").cast(pa.timestamp("us", tz=tz))
            start = pc.floor_temporal(local, unit=period, week_starts_monday=True)
            table = table.append_column("period", pc.cast(pc.local_timestamp(start), pa.date32()))
            keys = ["period", *keys]
        aggregations = [("line", "count")] + [(c, "sum") for c in [*COST_COLUMNS, "reported_cost"]]
        grouped = table.group_by(keys, use_threads=False).aggregate(aggregations)
        names = {"line_count": "rows", **{f"{c}_sum": c for c in [*COST_COLUMNS, "reported_cost"]}}
        grouped = grouped.rename_columns([names.get(c, c) for c in grouped.column_names])
        ordered = [*keys, "rows", *COST_COLUMNS, "reported_cost"]
        grouped = grouped.select(ordered)
        if keys:
            grouped = grouped.sort_by([(k, "ascending") for k in keys])
        counts = {"rows_read": self.rows_read, "rows_priced": self.rows_priced, "rows_rejected": self.rows_rejected}
        return grouped.replace_schema_metadata({k: str(v) for k, v in counts.items()})

    def to_pandas(self) -> Any:
        import pandas as pd

        return self.table.to_pandas(types_mapper=pd.ArrowDtype)

    def to_polars(self) -> Any:
        import polars as pl

        return pl.from_arrow(self.table)

    def write(self, path: str | os.PathLike[str]) -> None:
        """Writes the priced lines as Parquet, CSV or JSON Lines (by extension); rejects go next to them
        (``<name>.rejects.<ext>``) when there are any."""
        target = Path(path)
        _write(self.table, target)
        if self.rows_rejected:
            _write(self.rejects, target.with_name(f"{target.stem}.rejects{target.suffix}"))


_FIXED = {
    "source",
    "line",
    "id",
    "timestamp",
    "provider",
    "model",
    "served_model",
    "service_tier",
    "cache_hit",
    "status",
    "priced_provider",
    "priced_model",
    "price_from",
    "reported_cost",
    *COST_COLUMNS,
}


def _write(table: Any, path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    elif suffix == ".csv":
        import pyarrow.csv as pcsv

        pcsv.write_csv(table, path)
    elif suffix in (".jsonl", ".ndjson", ".json"):
        with path.open("w", encoding="utf-8") as out:
            for row in table.to_pylist():
                out.write(json.dumps(row, default=str) + "\n")
    else:
        raise _core.InvalidArgumentError(f"{path}: write .parquet, .csv or .jsonl")


def price_logs(
    source: Any,
    format: str | None = None,
    by: str | Sequence[str] | None = None,
    book: PriceBook | None = None,
    *,
    provider: str | None = None,
    model: str | None = None,
    default_at: Any = None,
    service_tier: str | None = None,
    num_threads: int | None = None,
) -> PricedLogs:
    """Prices logs: ``source`` is a path, a glob or a list of them (JSON Lines or a JSON array; plain, gzip or
    zstd), a list of records (dicts or JSON text), or an Arrow-compatible table whose rows are records.

    Each record's usage is read by its format (detected per record, or ``format=``), priced at its own
    timestamp (``default_at=`` for records without one), with its labels as columns. ``by`` is a shortcut for
    ``.summary(by)`` on the result's ``last_summary``.
    """
    options = {
        "book": book,
        "format": format,
        "provider": provider,
        "model": model,
        "default_at": default_at,
        "service_tier": service_tier,
        "num_threads": num_threads,
    }
    if isinstance(source, (str, os.PathLike)) or (
        isinstance(source, (list, tuple))
        and source
        and all(isinstance(s, (str, os.PathLike)) for s in source)
        and not any(str(s).lstrip().startswith(("{", "[")) for s in source)
    ):
        priced, rejects, read = _core.price_log_files(_paths(source), **options)
    else:
        priced, rejects, read = _core.price_log_texts(_texts(source), **options)
    result = PricedLogs(priced, rejects, read)
    if by is not None:
        result.last_summary = result.summary(by)
    return result


def _texts(source: Any) -> list[str | None]:
    kind = type(source).__module__.split(".", 1)[0]
    if kind in ("pyarrow", "polars", "pandas", "duckdb") or hasattr(source, "__arrow_c_stream__"):
        import pyarrow as pa

        rows = pa.table(source).to_pylist() if kind != "pandas" else source.to_dict("records")
        return [json.dumps(r, default=str) for r in rows]
    out: list[str | None] = []
    for item in source:
        if item is None or isinstance(item, str):
            out.append(item)
        elif isinstance(item, bytes):
            out.append(item.decode("utf-8", errors="replace"))
        else:
            out.append(json.dumps(item, default=str))
    return out

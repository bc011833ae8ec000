"""The engine-neutral Arrow layer under ``tokenprice.spark``, ``.dask`` and ``.ray``: one ``pyarrow.RecordBatch``
in, one out, of a schema known before any row is read; partial sums that merge exactly; read tasks over files (a
byte range of a JSON Lines file, read at line boundaries by the core).

What is priced and how is the core's (``price_log_texts`` and ``price_arrow_table`` on each batch, the same calls
``price_logs`` and ``price_table`` make, so records without usage are counted the same way). This layer only
converts for engines: the columns the core gives are projected onto a fixed schema (every label asked for, every
usage count), in types every engine reads — plain strings, signed int64 counts, decimal128(38, 18) money, UTC
timestamps, every field nullable — and the rejects travel in the same batch as rows whose ``status`` is
``"rejected"``, with their ``reason`` and ``excerpt``."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from tokenprice import _core
from tokenprice._columns import arrow_table, json_text
from tokenprice._core import PriceBook
from tokenprice._display import mark
from tokenprice._sums import narrowed, summable

# A reject's rows in a priced batch: `status` says so, `reason` and `excerpt` why (the rejects table's columns).
REJECTED = "rejected"
REJECT_COLUMNS = ("source", "line", "reason", "excerpt")
COST_COLUMNS = (*_core.COST_COLUMNS, "reported_cost")


def _money_type() -> Any:
    import pyarrow as pa

    return pa.decimal128(38, 18)


def engine_type(kind: Any) -> Any:
    """An Arrow type as every engine reads it: dictionaries as their values, unsigned and narrower integers as
    int64 (Spark has no unsigned type), large strings as strings."""
    import pyarrow as pa

    if pa.types.is_dictionary(kind):
        return engine_type(kind.value_type)
    if pa.types.is_integer(kind):
        return pa.int64()
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return pa.string()
    return kind


def _options(**options: Any) -> dict[str, Any]:
    """``price_logs``' options for one batch: an engine's task is one core (the engine runs tasks side by side)."""
    from tokenprice._ledger import LogOptions

    return LogOptions(**options, num_threads=1).core()


@functools.lru_cache(maxsize=1)
def _core_line_schema() -> Any:
    """The core's priced-line columns, from a run over no records (the columns every batch has)."""
    priced, _, _ = _core.price_log_texts([], _options())
    return arrow_table(priced).schema


def label_column(label: str) -> str:
    """The column of a metadata label: its own name, or ``metadata.<name>`` when that is a column's name already
    or one a summary adds (as the core names it; ``reason`` and ``excerpt`` are the rejects' columns here)."""
    taken = {*_core.log_columns()[0], *_core.SUMMARY_COLUMNS, *_core.usage_fields(), "reason", "excerpt"}
    return f"metadata.{label}" if label in taken else label


def _labels(labels: str | Sequence[str] | None) -> list[str]:
    names = _keys(labels, "labels")
    if len(set(names)) != len(names):
        raise _core.InvalidArgumentError(f"labels repeat: {names}")
    return names


def log_schema(labels: str | Sequence[str] | None = None) -> Any:
    """The schema of every batch ``price_log_batch`` gives for these labels: the priced line's columns (labels
    after ``served_model``, every usage count after ``usage_source``), then ``reason`` and ``excerpt`` (set on
    rejects only). Every field is nullable: a reject has only ``source``, ``line``, ``status`` and those two."""
    import pyarrow as pa

    core = _core_line_schema()
    counts = list(_core.usage_fields())
    fields: list[Any] = []
    for field in core:
        if field.name in counts:
            continue
        fields.append(pa.field(field.name, engine_type(field.type)))
        if field.name == "served_model":
            fields.extend(pa.field(label_column(label), pa.string()) for label in _labels(labels))
        elif field.name == "usage_source":
            fields.extend(pa.field(c, pa.int64()) for c in counts)
    fields += [pa.field("reason", pa.string()), pa.field("excerpt", pa.string())]
    return pa.schema(fields)


def _conform(table: Any, schema: Any) -> Any:
    """A table's columns as ``schema`` has them: each cast to its type (checked: a count past int64 fails), a
    column the table lacks as nulls; columns the schema does not name (labels not asked for) left out."""
    import pyarrow as pa

    columns = []
    for field in schema:
        if field.name in table.column_names:
            column = table.column(field.name)
            columns.append(column if column.type == field.type else column.cast(field.type))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _texts(data: Any, column: str | None) -> list[str | None]:
    """The JSON texts of a batch: a string array, a table's ``column`` (by default its only column, or
    ``value``, the column ``spark.read.text`` gives), or a list of texts or records."""
    import pyarrow as pa

    if isinstance(data, (pa.RecordBatch, pa.Table)):
        if column is None:
            column = data.column_names[0] if data.num_columns == 1 else "value"
        if column not in data.column_names:
            raise _core.InvalidArgumentError(f"no column {column!r} of JSON lines; columns: {data.column_names}")
        data = data.column(column)
    if isinstance(data, (pa.Array, pa.ChunkedArray)):
        if not (pa.types.is_string(data.type) or pa.types.is_large_string(data.type) or pa.types.is_binary(data.type)):
            raise _core.InvalidTypeError(f"JSON lines must be a string column, not {data.type}")
        values = data.to_pylist()
        return [v.decode("utf-8", errors="replace") if isinstance(v, bytes) else v for v in values]
    if isinstance(data, (list, tuple)):
        return [v if v is None or isinstance(v, str) else json_text(v) for v in data]
    raise _core.InvalidTypeError(f"JSON lines must be an Arrow string column or a list, got {type(data).__name__}")


def price_log_batch(
    data: Any,
    labels: str | Sequence[str] | None = None,
    *,
    column: str | None = None,
    source: str = "batch",
    **options: Any,
) -> Any:
    """Prices a batch of JSON log records (a string column, a table's ``column``, or a list) as ``price_logs``
    prices them (``options``: its ``book``, ``format``, ``provider``, ``model``, ``default_at``, ``service_tier``,
    ``approximate``); returns one ``pyarrow.RecordBatch`` of ``log_schema(labels)``: priced lines and rejects
    (``status == "rejected"``, with ``reason`` and ``excerpt``) together, ``source`` naming the batch and ``line``
    the row in it (1-based)."""
    priced, rejects, _ = _core.price_log_texts(_texts(data, column), _options(**options), source=source)
    return _combined(arrow_table(priced), arrow_table(rejects), labels)


def _combined(lines: Any, rejected: Any, labels: str | Sequence[str] | None) -> Any:
    """The core's priced lines and rejects as one batch of ``log_schema(labels)``."""
    import pyarrow as pa

    schema = log_schema(labels)
    names = [label_column(x) for x in _labels(labels)]
    moved = {x: c for x, c in zip(_labels(labels), names, strict=True) if x != c and x in ("reason", "excerpt")}
    if moved:  # a label named like the rejects' columns: the core names it plainly, this schema does not
        lines = lines.rename_columns([moved.get(c, c) for c in lines.column_names])
    status = pa.array([REJECTED] * rejected.num_rows, pa.string())
    rejected = rejected.append_column("status", status)
    both = pa.concat_tables([_conform(lines, schema), _conform(rejected, schema)])
    return both.combine_chunks().to_batches()[0] if both.num_rows else pa.RecordBatch.from_pylist([], schema=schema)


class Rejects(NamedTuple):
    """How a result that holds priced rows and rejects together splits, read from its columns (``of_columns``):
    the engines' ``split_rejects`` filter their frames by it, ``split_rejects`` and ``rejected_mask`` Arrow
    batches."""

    logs: bool
    """A ``price_log_batch`` result (a reject's ``status`` is ``"rejected"``, with its ``reason`` and ``excerpt``),
    or a ``price_table_batch`` one (a row that cannot be priced has its ``status`` set: why)."""
    priced: list[str]
    """The priced rows' columns: a log result's without ``reason`` and ``excerpt``; a table result's all."""
    rejects: list[str]
    """The rejects' columns: ``REJECT_COLUMNS`` (as ``price_logs`` gives its rejects); a table result's all."""

    @classmethod
    def of_columns(cls, names: Sequence[str]) -> Rejects:
        """The split of a result with these columns: a log result has ``reason`` and ``excerpt`` (the columns
        ``log_schema`` ends with), a table result does not (``price_table`` adds neither)."""
        names = list(names)
        if "status" not in names:
            raise _core.InvalidArgumentError(
                f"no status column to split rejects by (a result of price or price_logs with split=False has one); "
                f"columns: {names}"
            )
        if "reason" in names and "excerpt" in names:
            missing = [c for c in REJECT_COLUMNS if c not in names]
            if missing:
                raise _core.InvalidArgumentError(f"a priced log result lacks the rejects' columns {missing}")
            return cls(True, [c for c in names if c not in ("reason", "excerpt")], list(REJECT_COLUMNS))
        return cls(False, names, names)


def split_rejects(data: Any) -> tuple[Any, Any]:
    """A priced batch or table (``price_log_batch``'s or ``price_table_batch``'s) as (priced rows, rejects): for log
    lines, the lines without ``reason`` and ``excerpt`` and the rejects as ``price_logs`` gives them (source, line,
    reason, excerpt); for usage rows, the rows priced and those whose ``status`` says why not, all columns kept."""
    return split_part(data, rejects=False), split_part(data, rejects=True)


def split_part(data: Any, *, rejects: bool) -> Any:
    """One of ``split_rejects``' two tables: the rejects (``rejects=True``) or the priced rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = pa.table(data) if not isinstance(data, pa.Table) else data
    split = Rejects.of_columns(table.column_names)
    rejected = rejected_mask(table)
    if rejects:
        return table.filter(rejected).select(split.rejects)
    return table.filter(pc.invert(rejected)).select(split.priced)


def check_split(by: str | Sequence[str] | None, split: bool) -> None:
    """``split=False`` asks for priced lines and rejects in one frame: there is none with ``by`` (totals per group
    and rejects per reason are two tables of different columns)."""
    if not split and by is not None:
        raise _core.InvalidArgumentError(
            "split=False gives priced lines and rejects in one frame, without by=; with by=, price_logs gives "
            "(totals per group, rejects per reason)"
        )


# -- usage tables ----------------------------------------------------------------------------------------------


def _localized(table: Any, timestamp: str | None, tz: str) -> Any:
    """A naive timestamp column read as wall time in ``tz`` (a Spark session's zone), as UTC instants; a time a
    clock change skips or repeats is taken at its earlier instant. A zoned column is left as it is."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if timestamp is None or timestamp not in table.column_names:
        return table
    column = table.column(timestamp)
    if not pa.types.is_timestamp(column.type) or column.type.tz is not None:
        return table
    try:
        zoned = pc.assume_timezone(column, tz, ambiguous="earliest", nonexistent="earliest")
    except (pa.ArrowInvalid, ValueError) as e:
        raise _core.InvalidArgumentError(f"unknown time zone {tz!r}: {e}") from None
    at = table.column_names.index(timestamp)
    return table.set_column(at, timestamp, zoned.cast(pa.timestamp(column.type.unit, tz="UTC")))


def price_table_batch(
    data: Any,
    *,
    tz: str = "UTC",
    timestamp: str | None = "timestamp",
    book: PriceBook | None = None,
    **options: Any,
) -> Any:
    """Prices a batch of usage rows as ``price_table`` does (its keywords), keeping the input's columns; returns
    one ``pyarrow.RecordBatch`` of ``price_table_schema(data.schema, ...)``. A naive ``timestamp`` column is wall
    time in ``tz`` (a Spark session's ``spark.sql.session.timeZone``), not UTC."""
    import pyarrow as pa

    from tokenprice._pricing import price_table

    table = pa.table(data) if not isinstance(data, pa.Table) else data
    schema = price_table_schema(table.schema, timestamp=timestamp, **options)
    priced = price_table(
        _localized(table, timestamp, tz), timestamp=timestamp, book=book, num_threads=1, money="decimal", **options
    )
    if timestamp in table.column_names:  # the input's own column, as it came
        priced = priced.set_column(priced.column_names.index(timestamp), timestamp, table.column(timestamp))
    out = _conform(priced, schema)
    return out.combine_chunks().to_batches()[0] if out.num_rows else pa.RecordBatch.from_pylist([], schema=schema)


def price_table_schema(schema: Any, *, timestamp: str | None = "timestamp", **options: Any) -> Any:
    """The schema of ``price_table_batch`` for input batches of ``schema`` (and the same keywords): the input's
    columns then the result's, in engine types, every field nullable."""
    import pyarrow as pa

    from tokenprice._pricing import price_table

    empty = pa.Table.from_pylist([], schema=_localized_schema(schema, timestamp))
    out = price_table(empty, timestamp=timestamp, money="decimal", **options).schema
    fields = [pa.field(f.name, engine_type(f.type)) for f in out]
    if timestamp in schema.names:
        fields[schema.names.index(timestamp)] = pa.field(timestamp, schema.field(timestamp).type)
    return pa.schema(fields)


def _localized_schema(schema: Any, timestamp: str | None) -> Any:
    import pyarrow as pa

    if timestamp is None or timestamp not in schema.names:
        return schema
    kind = schema.field(timestamp).type
    if pa.types.is_timestamp(kind) and kind.tz is None:
        return schema.set(schema.names.index(timestamp), pa.field(timestamp, pa.timestamp(kind.unit, tz="UTC")))
    return schema


# -- partial sums ----------------------------------------------------------------------------------------------


def _keys(by: str | Sequence[str] | None, what: str = "by") -> list[str]:
    from tokenprice._ledger import _keys as keys

    return keys(by, what)


def partial_schema(schema: Any, by: str | Sequence[str] | None) -> Any:
    """The schema of ``summarize``'s partial sums over batches of ``schema``: the ``by`` columns, ``reason`` (null
    for priced lines; a reject's reason), ``rows``, then the money sums as decimal128(38, 18)."""
    import pyarrow as pa

    from tokenprice._ledger import check_keys

    keys = _keys(by)
    check_keys(keys)
    for key in keys:
        if key not in schema.names:
            raise _core.InvalidArgumentError(f"no column {key!r} to group by; columns: {schema.names}")
    fields = [pa.field(k, schema.field(k).type) for k in keys]
    fields += [pa.field("reason", pa.string()), pa.field("rows", pa.int64())]
    return pa.schema(fields + [pa.field(c, _money_type()) for c in COST_COLUMNS])


def summarize(data: Any, by: str | Sequence[str] | None = None) -> Any:
    """The partial sums of a priced batch (``price_log_batch`` or ``price_table_batch``), per group of ``by``:
    ``rows`` and each money column summed exactly (decimal128(38, 18)); rejects counted per ``reason`` (their keys
    null). ``merge`` sums partials of any split of the same rows into what one run's ``summary(by)`` gives."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = pa.table(data) if not isinstance(data, pa.Table) else data
    keys = _keys(by)
    schema = partial_schema(table.schema, keys)
    if "status" in table.column_names and "reason" in table.column_names:
        priced, rejected = split_rejects(table)
    else:  # price_table_batch: a row that cannot be priced has its status (why), and no cost
        bad = pc.is_valid(table.column("status"))
        priced = table.filter(pc.invert(bad))
        rejected = table.filter(bad).select(["status"]).rename_columns(["reason"])
    parts = []
    if priced.num_rows:
        present = [c for c in COST_COLUMNS if c in priced.column_names]
        grouped = (
            summable(priced, present)
            .group_by(keys, use_threads=False)
            .aggregate([([], "count_all")] + [(c, "sum") for c in present])
        )
        names = {"count_all": "rows", **{f"{c}_sum": c for c in present}}
        grouped = narrowed(grouped.rename_columns([names.get(c, c) for c in grouped.column_names]), present)
        parts.append(_conform(grouped, schema))
    if rejected.num_rows:
        counted = rejected.group_by(["reason"], use_threads=False).aggregate([([], "count_all")])
        parts.append(_conform(counted.rename_columns(["reason", "rows"]), schema))
    if not parts:
        return pa.RecordBatch.from_pylist([], schema=schema)
    return pa.concat_tables(parts).combine_chunks().to_batches()[0]


def summarize_log_batch(
    data: Any,
    by: str | Sequence[str] | None = None,
    labels: str | Sequence[str] | None = None,
    *,
    column: str | None = None,
    source: str = "batch",
    **options: Any,
) -> Any:
    """``summarize(price_log_batch(data, labels, ...), by)`` without building the rows: the core adds each record
    to its group as it prices it (as ``price_logs(keep_rows=False)`` does), and the rejects are counted per
    reason. The partial sums are the same, in less time."""
    keys = _keys(by)
    totals, rejects, _ = _core.total_log_texts(_texts(data, column), _options(**options), totals_by=keys, source=source)
    return _partial(arrow_table(totals), arrow_table(rejects), partial_schema(log_schema(labels), keys))


def summarize_log_task(
    task: tuple[str, int, int],
    by: str | Sequence[str] | None = None,
    labels: str | Sequence[str] | None = None,
    **options: Any,
) -> Any:
    """``summarize(price_log_task(task, labels, ...), by)`` without building the rows (see
    ``summarize_log_batch``); a whole file is read by the core's reader."""
    keys = _keys(by)
    _, rejects, _, _, totals, _ = _read_task(task, _options(**options), totals_by=keys)
    return _partial(arrow_table(totals), arrow_table(rejects), partial_schema(log_schema(labels), keys))


def _read_task(task: tuple[str, int, int], options: dict[str, Any], **keywords: Any) -> Any:
    """One read task through the core's file reader: a whole file (end -1), or a byte range of it read at line
    boundaries in the core (``source`` is then ``path@start-end``, ``line`` the line's place in the range)."""
    path, start, end = task
    ranges = None if end < 0 else [(start, end)]
    return _core.price_log_files([path], options, spill=False, ranges=ranges, **keywords)


def _partial(totals: Any, rejects: Any, schema: Any) -> Any:
    """The core's totals per group and its rejects as partial sums of ``schema`` (rejects counted per reason)."""
    import pyarrow as pa

    parts = [_conform(totals, schema)]
    if rejects.num_rows:
        counted = rejects.group_by(["reason"], use_threads=False).aggregate([([], "count_all")])
        parts.append(_conform(counted.rename_columns(["reason", "rows"]), schema))
    out = pa.concat_tables(parts)
    return out.combine_chunks().to_batches()[0] if out.num_rows else pa.RecordBatch.from_pylist([], schema=schema)


def combine(partials: Iterable[Any], by: str | Sequence[str] | None = None) -> Any:
    """Partial sums summed into one partial of the same schema (one row per group and per reject reason): a step
    of a tree reduction, run on the workers so the client merges a few partials, not one per task."""
    import pyarrow as pa

    keys = _keys(by)
    tables = [pa.table(p) if not isinstance(p, pa.Table) else p for p in partials]
    if not tables:
        raise _core.InvalidArgumentError("combine needs at least one partial")
    table = pa.concat_tables(tables, promote_options="permissive")
    sums = [("rows", "sum")] + [(c, "sum") for c in COST_COLUMNS]
    grouped = summable(table, COST_COLUMNS).group_by([*keys, "reason"], use_threads=False).aggregate(sums)
    grouped = grouped.rename_columns([c.removesuffix("_sum") for c in grouped.column_names])
    return _conform(narrowed(grouped, COST_COLUMNS), table.schema)


def merge(partials: Iterable[Any], by: str | Sequence[str] | None = None) -> tuple[Any, Any]:
    """Partial sums (``summarize``'s, of any split of the rows) summed: (totals, rejects). ``totals`` is what
    ``PricedLogs.summary(by)`` gives for the same rows — the ``by`` columns, ``rows``, the cost columns,
    ``total_cost``, ``reported_cost``, sorted by the keys — with ``rows_read``, ``rows_priced`` and
    ``rows_rejected`` in its schema metadata; ``rejects`` is ``reason`` and ``rows`` per reason."""
    import pyarrow as pa
    import pyarrow.compute as pc

    keys = _keys(by)
    tables = [pa.table(p) if not isinstance(p, pa.Table) else p for p in partials]
    if not tables:
        raise _core.InvalidArgumentError("merge needs at least one partial (summarize of a batch, even an empty one)")
    table = pa.concat_tables(tables, promote_options="permissive")
    is_reject = pc.is_valid(table.column("reason"))
    priced = table.filter(pc.invert(is_reject))
    sums = [("rows", "sum")] + [(c, "sum") for c in COST_COLUMNS]
    grouped = summable(priced, COST_COLUMNS).group_by(keys, use_threads=False).aggregate(sums)
    grouped = narrowed(grouped.rename_columns([c.removesuffix("_sum") for c in grouped.column_names]), COST_COLUMNS)
    if grouped.num_rows == 0:  # typed as the partials are (an aggregate of nothing has no key types)
        grouped = pa.Table.from_pylist([], schema=partial_schema(table.schema, keys)).drop_columns(["reason"])
    grouped = grouped.select([*keys, "rows", *COST_COLUMNS])
    grouped = grouped.cast(
        pa.schema([pa.field(f.name, pa.int64() if f.name == "rows" else f.type) for f in grouped.schema])
    )
    if keys:
        grouped = grouped.sort_by([(k, "ascending") for k in keys])
    rejects = table.filter(is_reject).group_by(["reason"], use_threads=False).aggregate([("rows", "sum")])
    rejects = rejects.rename_columns(["reason", "rows"]).sort_by([("reason", "ascending")])
    priced_rows = int(pc.sum(grouped.column("rows")).as_py() or 0)
    rejected_rows = int(pc.sum(rejects.column("rows")).as_py() or 0)
    counts = {"rows_read": priced_rows + rejected_rows, "rows_priced": priced_rows, "rows_rejected": rejected_rows}
    # Marked as summary() marks its table, so a notebook shows the merged totals as it shows a summary.
    return mark(grouped.replace_schema_metadata({k: str(v) for k, v in counts.items()}), "summary"), rejects


# Partial sums combined per step of an engine's tree reduction.
FAN_IN = 8


def reduce_tree(parts: list[Any], combine: Callable[[list[Any]], Any]) -> list[Any]:
    """Partials combined ``FAN_IN`` at a time (``combine``: an engine's remote call of ``Job.combine``), step after
    step, until one is left (none when there were none): the client then merges a few partials, not one per
    task."""
    while len(parts) > 1:
        parts = [combine(parts[i : i + FAN_IN]) for i in range(0, len(parts), FAN_IN)]
    return parts


def total(totals: Any) -> Decimal:
    """The exact sum of a totals table's ``total_cost``."""
    import pyarrow.compute as pc

    value = pc.sum(summable(totals.select(["total_cost"]), ["total_cost"]).column("total_cost")).as_py()
    return Decimal(0) if value is None else Decimal(value)


# -- splittable input ------------------------------------------------------------------------------------------

COMPRESSED = (".gz", ".zst", ".zstd")


def is_compressed(path: str | os.PathLike[str]) -> bool:
    """Whether a file is read whole by one task (a compressed stream cannot be entered in the middle)."""
    return os.fspath(path).lower().endswith(COMPRESSED)


def byte_ranges(path: str | os.PathLike[str], size: int) -> list[tuple[int, int]]:
    """``[start, end)`` ranges of about ``size`` bytes that tile a plain file (one range for a compressed or
    empty file, read whole)."""
    length = os.path.getsize(path)
    if is_compressed(path) or length == 0:
        return [(0, max(length, 1))]
    if size <= 0:
        raise _core.InvalidArgumentError(f"range size must be positive, got {size}")
    return [(s, min(s + size, length)) for s in range(0, length, size)]


def tasks(paths: Iterable[str | os.PathLike[str]], split_bytes: int | None) -> list[tuple[str, int, int]]:
    """The read tasks of many files: (path, start, end); a plain file split in ranges of ``split_bytes`` (whole
    when None), a compressed one whole (end -1)."""
    out = []
    for path in paths:
        p = os.fspath(path)
        if is_compressed(p) or split_bytes is None:
            out.append((p, 0, -1))
        else:
            out.extend((p, s, e) for s, e in byte_ranges(p, split_bytes))
    return out


def price_log_task(task: tuple[str, int, int], labels: str | Sequence[str] | None = None, **options: Any) -> Any:
    """Prices one read task (see ``tasks``) as ``price_log_batch`` does, the core reading the file: a whole file
    (plain, gzip or zstd; ``line`` is the file's line), or a byte range of a plain file at line boundaries (a line
    belongs to the range its first byte is in; ``source`` is ``path@start-end`` and ``line`` the line's place in
    the range: the ``n``-th line starting in it, blank lines counted)."""

    priced, rejects, _, _, _, _ = _read_task(task, _options(**options))
    return _combined(arrow_table(priced), arrow_table(rejects), labels)


# -- what an engine ships to its workers -----------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _unpickled(state: bytes) -> Any:
    import pickle

    return pickle.loads(state)


class Job:
    """What a worker needs to price batches, picklable and small: the labels, ``by``, the options, and the book
    as its pickle (by content), which each worker process unpickles once (later tasks find it cached)."""

    def __init__(
        self,
        labels: str | Sequence[str] | None = None,
        by: str | Sequence[str] | None = None,
        book: PriceBook | None = None,
        **options: Any,
    ) -> None:
        import pickle

        self.labels = _labels(labels)
        self.by = _keys(by)
        self.book_state = None if book is None else pickle.dumps(book)
        self.options = options

    @property
    def book(self) -> PriceBook | None:
        return None if self.book_state is None else _unpickled(self.book_state)

    def log_schema(self) -> Any:
        return log_schema(self.labels)

    def partial_schema(self) -> Any:
        return partial_schema(self.log_schema(), self.by)

    def lines(self, data: Any, column: str | None = None, source: str = "batch") -> Any:
        """A batch of JSON lines priced (``price_log_batch``)."""
        return price_log_batch(data, self.labels, column=column, source=source, book=self.book, **self.options)

    def task(self, task: tuple[str, int, int]) -> Any:
        """A read task priced (``price_log_task``)."""
        return price_log_task(task, self.labels, book=self.book, **self.options)

    def tasks(self, batch: Any) -> Iterator[Any]:
        """Each read task of a batch of them (columns path, start, end) priced."""
        columns = [batch.column(name).to_pylist() for name in ("path", "start", "end")]
        for path, start, end in zip(*columns, strict=True):
            yield self.task((path, start, end))

    def table(self, data: Any, tz: str) -> Any:
        """A batch of usage rows priced (``price_table_batch``)."""
        return price_table_batch(data, tz=tz, book=self.book, **self.options)

    def table_schema(self, schema: Any) -> Any:
        return price_table_schema(schema, **self.options)

    def summarize(self, batch: Any) -> Any:
        return summarize(batch, self.by)

    def partial_lines(self, data: Any, column: str | None = None, source: str = "batch") -> Any:
        """A batch of JSON lines as partial sums (``summarize_log_batch``)."""
        return summarize_log_batch(
            data, self.by, self.labels, column=column, source=source, book=self.book, **self.options
        )

    def partial_task(self, task: tuple[str, int, int]) -> Any:
        """A read task as partial sums (``summarize_log_task``)."""
        return summarize_log_task(task, self.by, self.labels, book=self.book, **self.options)

    def partial_tasks(self, batch: Any) -> Iterator[Any]:
        """Each read task of a batch of them as partial sums (``summarize_log_task``)."""
        columns = [batch.column(name).to_pylist() for name in ("path", "start", "end")]
        for path, start, end in zip(*columns, strict=True):
            yield self.partial_task((path, start, end))

    def merge(self, partials: Iterable[Any]) -> tuple[Any, Any]:
        return merge(partials, self.by)

    def combine(self, partials: Iterable[Any]) -> Any:
        return combine(partials, self.by)


def task_table(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], split_bytes: int | None) -> Any:
    """The read tasks of files as a table (path, start, end), one row per task."""
    import pyarrow as pa

    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    rows = tasks([os.fspath(p) for p in items], split_bytes)
    return pa.table({k: [r[i] for r in rows] for i, k in enumerate(("path", "start", "end"))})


def is_paths(source: Any) -> bool:
    """Whether an engine's ``price_logs`` source is file paths (else a frame or dataset of lines)."""
    return isinstance(source, (str, os.PathLike)) or (
        isinstance(source, (list, tuple)) and all(isinstance(s, (str, os.PathLike)) for s in source)
    )


def rejected_mask(table: Any) -> Any:
    """Which rows of a priced batch are rejects (``Rejects.of_columns``): ``status == "rejected"`` for log lines,
    ``status`` set for usage rows (``price_table`` says why a row is not priced there)."""
    import pyarrow.compute as pc

    status = table.column("status")
    if Rejects.of_columns(table.column_names).logs:
        return pc.fill_null(pc.equal(status, REJECTED), False)
    return pc.is_valid(status)

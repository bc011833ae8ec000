"""tokenprice on Dask: usage tables and JSON Lines logs priced in the workers' processes, partition by partition,
through the Arrow layer (``tokenprice.price_log_batch``, ``price_table_batch``, ``summarize``, ``merge``).

``price(ddf)`` prices a Dask DataFrame of usage rows; ``price_logs(paths_or_ddf, by=..., labels=[...])`` prices
JSON log records — files (each compressed file read whole by one task, plain files split in byte ranges at line
boundaries, ``split_bytes=``) or a Dask DataFrame with a column of lines — and gives the priced lines or exact
totals per group, and the rejects, as two Dask DataFrames — or, with ``split=False``, priced rows and rejects in
one lazy Dask DataFrame, which ``split_rejects`` splits later. Money columns are ``pd.ArrowDtype(decimal128(38,
18))``: exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tokenprice import _batches
from tokenprice._core import PriceBook

__all__ = ["price", "price_logs", "split_rejects"]


def _pandas(table: Any) -> Any:
    """An Arrow batch as a pandas frame with Arrow-backed columns (decimals stay exact)."""
    import pandas as pd
    import pyarrow as pa

    return pa.table(table).to_pandas(types_mapper=pd.ArrowDtype)


def _meta(schema: Any) -> Any:
    return _pandas(schema.empty_table())


def _arrow(frame: Any) -> Any:
    import pyarrow as pa

    return pa.Table.from_pandas(frame, preserve_index=False)


def price(ddf: Any, *, book: PriceBook | None = None, tz: str = "UTC", split: bool = True, **options: Any) -> Any:
    """Prices a Dask DataFrame of usage rows (``price_table``'s columns and keywords) in the workers: every row
    with the input's columns and the result's; a row is rejected when its ``status`` says why. Naive timestamps
    are wall time in ``tz``.

    ``split=True`` (the default): (priced rows, rejected rows) of one persisted computation (``split_rejects``).
    ``split=False``: one lazy Dask DataFrame of every row, nothing persisted: what a job that only sums or writes
    the result wants (it prices each row once, without holding the priced frame in the workers' memory)."""
    job = _batches.Job(book=book, **options)
    schema = job.table_schema(_arrow(ddf._meta).schema)
    priced = ddf.map_partitions(lambda part: _pandas(job.table(_arrow(part), tz)), meta=_meta(schema))
    return split_rejects(priced) if split else priced


def split_rejects(frame: Any, *, cache: bool = True) -> tuple[Any, Any]:
    """A result of ``price(..., split=False)`` or ``price_logs(..., split=False)`` as (priced, rejects), the two
    frames ``split=True`` gives: for usage rows, the rows priced and those whose ``status`` says why not (every
    column); for log lines, the lines (without ``reason`` and ``excerpt``) and the rejects (source, line, reason,
    excerpt).

    With ``cache=True`` (the default) the frame is persisted first (``frame.persist()``: computed now, its
    partitions held in the workers' memory until the two frames are dropped), so the two are views of one
    computation. With ``cache=False`` each of the two frames prices the input again when it is computed."""
    split = _batches.Rejects.of_columns(list(frame.columns))
    if cache:
        frame = frame.persist()
    status = frame["status"]
    rejected = (status == _batches.REJECTED).fillna(False) if split.logs else ~status.isna()
    return frame[~rejected][split.priced], frame[rejected][split.rejects]


def price_logs(
    source: Any,
    by: str | Sequence[str] | None = None,
    labels: str | Sequence[str] | None = None,
    *,
    column: str = "value",
    split_bytes: int | None = 64 << 20,
    book: PriceBook | None = None,
    split: bool = True,
    **options: Any,
) -> Any:
    """Prices JSON log records in the workers, from ``source``: paths (a path or a list; one task per compressed
    file, and per ``split_bytes`` of a plain file, cut at line boundaries; ``split_bytes=None`` reads a file whole)
    or a Dask DataFrame whose string ``column`` holds the records. ``labels`` name the metadata labels kept as
    columns; the other keywords are ``price_logs``'s (format, provider, model, default_at, service_tier,
    approximate).

    Returns, with ``by``: (totals per group, rejects per reason), one partition each, the partial sums combined on
    the workers (a tree reduction) and merged exactly in the client: equal to ``tokenprice.price_logs(...)
    .summary(by)`` to the last digit. Without ``by``: (priced lines, rejects) of one persisted computation
    (``split_rejects``), or with ``split=False`` one lazy Dask DataFrame of both, nothing persisted
    (``log_schema(labels)``; a reject's ``status`` is ``"rejected"``, with its ``reason`` and ``excerpt``)."""
    import dask.dataframe as dd

    _batches.check_split(by, split)
    job = _batches.Job(labels, by, book, **options)
    out = job.log_schema() if by is None else job.partial_schema()

    # With ``by`` a task hands back its partial sums only: the core adds each record to its group as it prices it
    # (as ``price_logs(keep_rows=False)`` does), so no priced line is built, converted or summed in Python.
    def task(t: dict[str, Any]) -> Any:
        read = (t["path"], t["start"], t["end"])
        return _pandas(job.task(read) if by is None else job.partial_task(read))

    def lines(part: Any) -> Any:
        data = _arrow(part)
        if by is None:
            return _pandas(job.lines(data, column, source="dataframe"))
        return _pandas(job.partial_lines(data, column, source="dataframe"))

    if _batches.is_paths(source):
        tasks = _batches.task_table(source, split_bytes).to_pylist()
        frame = dd.from_map(task, tasks, meta=_meta(out), enforce_metadata=False)  # type: ignore[no-untyped-call]
    else:
        frame = source[[column]].map_partitions(lines, meta=_meta(out))
    if by is None:
        return split_rejects(frame) if split else frame
    # A tree reduction on the workers, the client merging the last partial.
    from dask.base import compute
    from dask.delayed import delayed

    def combine(parts: list[Any]) -> Any:
        return _pandas(job.combine([_arrow(p) for p in parts]))

    parts = _batches.reduce_tree(frame.to_delayed(), delayed(combine))
    totals, rejects = job.merge([_arrow(compute(parts[0])[0])])  # type: ignore[no-untyped-call]
    return _one_partition(totals), _one_partition(rejects)


def _one_partition(table: Any) -> Any:
    """A small Arrow table (merged totals) as a Dask DataFrame of one partition."""
    import dask.dataframe as dd

    return dd.from_pandas(_pandas(table), npartitions=1)  # type: ignore[no-untyped-call]

"""tokenprice on Ray Data: usage tables and JSON Lines logs priced in Ray tasks, block by block, through the Arrow
layer (``tokenprice.price_log_batch``, ``price_table_batch``, ``summarize``, ``merge``).

``price(ds)`` prices a Dataset of usage rows; ``price_logs(paths_or_ds, by=..., labels=[...])`` prices JSON log
records — files (each compressed file read whole by one task, plain files split in byte ranges at line
boundaries, ``split_bytes=``) or a Dataset with a column of lines (``ray.data.read_text`` gives ``text``) — and
gives the priced lines or exact totals per group, and the rejects, as two Datasets — or, with ``split=False``,
priced rows and rejects in one lazy Dataset, which ``split_rejects`` splits later. Money is decimal128(38, 18).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tokenprice import _batches
from tokenprice._core import PriceBook

__all__ = ["price", "price_logs", "split_rejects"]


def split_rejects(ds: Any, *, cache: bool = True) -> tuple[Any, Any]:
    """A result of ``price(..., split=False)`` or ``price_logs(..., split=False)`` as (priced, rejects), the two
    datasets ``split=True`` gives: for usage rows, the rows priced and those whose ``status`` says why not (every
    column); for log lines, the lines (without ``reason`` and ``excerpt``) and the rejects (source, line, reason,
    excerpt).

    With ``cache=True`` (the default) the dataset is materialized first (``ds.materialize()``: computed now, its
    blocks held in Ray's object store, spilling to disk, until the two datasets are dropped), so the two are views
    of one computation. With ``cache=False`` each of the two datasets prices the input again when it runs."""

    # An empty block can come without columns (Ray makes one of a task that gave no rows): it stays as it is.
    def priced(t: Any) -> Any:
        return _batches.split_part(t, rejects=False) if t.num_columns else t

    def rejected(t: Any) -> Any:
        return _batches.split_part(t, rejects=True) if t.num_columns else t

    done = ds.materialize() if cache else ds
    kept = done.map_batches(priced, batch_format="pyarrow", batch_size=None)
    return kept, done.map_batches(rejected, batch_format="pyarrow", batch_size=None)


def price(ds: Any, *, book: PriceBook | None = None, tz: str = "UTC", split: bool = True, **options: Any) -> Any:
    """Prices a Dataset of usage rows (``price_table``'s columns and keywords) in Ray tasks: every row with the
    input's columns and the result's; a row is rejected when its ``status`` says why. Naive timestamps are wall
    time in ``tz``.

    ``split=True`` (the default): (priced rows, rejected rows) of one materialized computation
    (``split_rejects``). ``split=False``: one lazy Dataset of every row, nothing materialized: what a job that
    only sums or writes the result wants (it prices each row once, without holding the priced blocks in the
    object store)."""
    import pyarrow as pa

    job = _batches.Job(book=book, **options)
    priced = ds.map_batches(lambda t: pa.table(job.table(t, tz)), batch_format="pyarrow", batch_size=None)
    return split_rejects(priced) if split else priced


def price_logs(
    source: Any,
    by: str | Sequence[str] | None = None,
    labels: str | Sequence[str] | None = None,
    *,
    column: str = "text",
    split_bytes: int | None = 64 << 20,
    book: PriceBook | None = None,
    split: bool = True,
    **options: Any,
) -> Any:
    """Prices JSON log records in Ray tasks. ``source``: paths (a path or a list: a compressed file is one task,
    a plain file one task per ``split_bytes`` at line boundaries, whole with ``split_bytes=None``) or a Dataset
    with a string ``column`` of records. ``labels``: the metadata labels kept as columns; ``options``:
    ``price_logs``'s (format, provider, model, default_at, service_tier, approximate).

    Without ``by``: (priced lines, rejects) of one materialized computation (``split_rejects``); with
    ``split=False``, one lazy Dataset of both (``log_schema(labels)``: a reject's ``status`` is ``"rejected"``,
    with its ``reason`` and ``excerpt``), nothing materialized. With ``by``: (totals per group,
    rejects per reason): the partial sums are combined in Ray tasks (a tree reduction) and merged exactly in the
    driver, equal to
    ``tokenprice.price_logs(...).summary(by)`` to the last digit."""
    import pyarrow as pa
    import ray
    import ray.data

    _batches.check_split(by, split)
    job = _batches.Job(labels, by, book, **options)
    if _batches.is_paths(source):
        tasks = _batches.task_table(source, split_bytes)
        items = ray.data.from_arrow(tasks).repartition(max(tasks.num_rows, 1))

        def tasks_of(t: Any) -> Any:
            if by is None:
                return pa.Table.from_batches(list(job.tasks(t)), schema=job.log_schema())
            return pa.Table.from_batches(list(job.partial_tasks(t)), schema=job.partial_schema())

        priced = items.map_batches(tasks_of, batch_format="pyarrow", batch_size=1)
    else:

        def lines(t: Any) -> Any:
            if by is None:
                return pa.table(job.lines(t, column, source="dataset"))
            return pa.table(job.partial_lines(t, column, source="dataset"))

        priced = source.map_batches(lines, batch_format="pyarrow", batch_size=None)
    if by is None:
        return split_rejects(priced) if split else priced
    # A tree reduction in Ray tasks, the driver merging the last partial.
    combine = ray.remote(lambda *parts: job.combine(parts))
    refs = _batches.reduce_tree(priced.to_arrow_refs(), lambda parts: combine.remote(*parts))
    totals, rejects = job.merge([ray.get(r) for r in refs] or [pa.table(job.partial_schema().empty_table())])
    return ray.data.from_arrow(totals), ray.data.from_arrow(rejects)

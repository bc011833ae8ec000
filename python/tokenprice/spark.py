"""tokenprice on Spark (PySpark, Databricks): usage tables and JSON Lines logs priced on the executors through
``mapInArrow``, with the schema known before a row is read.

``price(df)`` prices a DataFrame of usage rows; ``price_logs(paths_or_df, by=..., labels=[...])`` prices JSON log
records — files (each compressed file read whole by one task, plain files split in byte ranges at line
boundaries, ``split_bytes=``) or a DataFrame of lines (``spark.read.text(...)``) — and gives the priced lines or
exact totals per group, and the rejects, as two Spark DataFrames — or, with ``split=False``, priced rows and rejects
in one lazy DataFrame, which ``split_rejects`` splits later. Money is decimal(38, 18): exact; Spark sums
it as decimal(38, 18), so a total past 10^20 USD overflows (an error under ``spark.sql.ansi.enabled``, the
default since Spark 4; null without it). Naive timestamps (TimestampNTZ) are wall time in the session's
``spark.sql.session.timeZone``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from tokenprice import _batches
from tokenprice._core import PriceBook

__all__ = ["price", "price_logs", "spark_schema", "split_rejects"]


def spark_schema(schema: Any) -> Any:
    """A pyarrow schema as Spark's ``StructType``."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)


def price(df: Any, *, book: PriceBook | None = None, tz: str | None = None, split: bool = True, **options: Any) -> Any:
    """Prices a DataFrame of usage rows (``price_table``'s columns and keywords) on the executors: every row with
    the input's columns and the result's (``total_cost``, ``status``, ...); a row is rejected when its ``status``
    says why. Naive timestamps are wall time in ``tz`` (default: the session's time zone).

    ``split=True`` (the default): (priced rows, rejected rows), two filters of one cached computation
    (``split_rejects``). ``split=False``: one lazy DataFrame of every row, nothing cached: what a job that only
    sums or writes the result wants (it prices each row once, without holding the priced frame in memory)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    zone = tz or str(df.sparkSession.conf.get("spark.sql.session.timeZone"))
    job = _batches.Job(book=book, **options)
    schema = job.table_schema(to_arrow_schema(df.schema, timezone="UTC", prefers_large_types=False))

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        for batch in batches:
            yield job.table(batch, zone)

    priced = df.mapInArrow(run, spark_schema(schema))
    return split_rejects(priced) if split else priced


def split_rejects(frame: Any, *, cache: bool = True) -> tuple[Any, Any]:
    """A result of ``price(..., split=False)`` or ``price_logs(..., split=False)`` as (priced, rejects), the two
    frames ``split=True`` gives: for usage rows, the rows priced and those whose ``status`` says why not (every
    column); for log lines, the lines (without ``reason`` and ``excerpt``) and the rejects (source, line, reason,
    excerpt).

    With ``cache=True`` (the default) the frame is cached first (``DataFrame.cache()``: memory, spilling to disk),
    so the two are filters of one computation; the cache holds every row at its full width until
    ``frame.unpersist()``. With ``cache=False`` each of the two frames prices the input again when it runs."""
    from pyspark.sql import functions as F

    split = _batches.Rejects.of_columns(frame.columns)
    if cache:
        frame = frame.cache()
    status = F.col("status")
    rejected = F.coalesce(status == _batches.REJECTED, F.lit(False)) if split.logs else status.isNotNull()
    return frame.filter(~rejected).select(*split.priced), frame.filter(rejected).select(*split.rejects)


def price_logs(
    source: Any,
    by: str | Sequence[str] | None = None,
    labels: str | Sequence[str] | None = None,
    *,
    spark: Any = None,
    column: str = "value",
    split_bytes: int | None = 64 << 20,
    book: PriceBook | None = None,
    split: bool = True,
    **options: Any,
) -> Any:
    """Prices JSON log records on the executors. ``source``: paths (a path or a list; each compressed file is one
    task, a plain file one task per ``split_bytes`` at line boundaries, whole with ``split_bytes=None``) or a
    DataFrame with a string ``column`` of records (``spark.read.text(...)``). ``labels``: the metadata labels kept
    as columns (``tokenprice.log_schema(labels)``); ``options``: ``price_logs``'s (format, provider, model,
    default_at, service_tier, approximate).

    Without ``by``: (priced lines, rejects), filters of one cached computation (``split_rejects``); with
    ``split=False``, one lazy DataFrame of both (``log_schema(labels)``: a reject's ``status`` is ``"rejected"``,
    with its ``reason`` and ``excerpt``), nothing cached. With ``by``: (totals per group, rejects per reason): the
    totals equal ``tokenprice.price_logs(...).summary(by)`` to the last digit."""
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    _batches.check_split(by, split)
    job = _batches.Job(labels, by, book, **options)
    if _batches.is_paths(source):
        session = spark or SparkSession.getActiveSession()
        if session is None:
            raise RuntimeError("tokenprice.spark.price_logs(paths): no active Spark session, pass spark=")
        tasks = _batches.task_table(source, split_bytes)
        frame = session.createDataFrame(tasks).repartition(max(tasks.num_rows, 1))

        def lines(batches: Iterator[Any]) -> Iterator[Any]:
            for batch in batches:
                yield from job.tasks(batch) if by is None else job.partial_tasks(batch)

    else:
        frame = source.select(column)

        def lines(batches: Iterator[Any]) -> Iterator[Any]:
            for batch in batches:
                if by is None:
                    yield job.lines(batch, column, source="dataframe")
                else:
                    yield job.partial_lines(batch, column, source="dataframe")

    if by is None:
        priced = frame.mapInArrow(lines, spark_schema(job.log_schema()))
        return split_rejects(priced) if split else priced

    partials = frame.mapInArrow(lines, spark_schema(job.partial_schema()))
    sums = [F.sum("rows").alias("rows")] + [F.sum(c).alias(c) for c in _batches.COST_COLUMNS]
    grouped = partials.groupBy(*job.by, "reason").agg(*sums).cache()
    totals = grouped.filter(F.col("reason").isNull()).drop("reason")
    if job.by:
        totals = totals.orderBy(*[F.col(k).asc_nulls_last() for k in job.by])
    rejects = grouped.filter(F.col("reason").isNotNull()).groupBy("reason").agg(F.sum("rows").alias("rows"))
    return totals, rejects.orderBy("reason")

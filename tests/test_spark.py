"""tokenprice.spark on a real PySpark (local[2], the machine's Java): totals equal one machine's to the last
digit, rejects kept, a discounted book shipped to the executors, a session time zone other than UTC. With
CI=true a missing PySpark or Java fails the run (tests/conftest.py)."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest

import tokenprice
import tokenprice.spark

import scale_cases
from scale_cases import (
    BAD,
    BOOK,
    BY,
    LABELS,
    PRICE_CHANGE,
    SAMPLE,
    big_log,
    local_totals,
    rejects_by_reason,
    usage_table,
)

pytestmark = pytest.mark.engines


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    pytest.importorskip("pyspark", reason="PySpark is not installed: pip install -e '.[spark]'")
    if shutil.which("java") is None:
        pytest.skip("no Java on PATH: PySpark needs Java 17")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("tokenprice-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return big_log(tmp_path_factory.mktemp("spark"))


def _rejects(frame: Any) -> dict[str, int]:
    return {r["reason"]: r["rows"] for r in frame.toArrow().to_pylist()}


def test_sample_logs_totals_by_tenant_and_feature_equal_one_machine(spark: Any) -> None:
    single = tokenprice.price_logs(str(SAMPLE))
    totals, rejects = tokenprice.spark.price_logs(str(SAMPLE), by=BY, labels=LABELS, spark=spark)
    assert totals.toArrow().to_pylist() == single.summary(BY).to_pylist()
    assert _rejects(rejects) == rejects_by_reason(single.rejects)


def test_100k_lines_split_in_byte_ranges_with_a_discounted_book(spark: Any, big: Path) -> None:
    single = tokenprice.price_logs(str(big), book=BOOK)
    totals, rejects = tokenprice.spark.price_logs(
        str(big), by=BY, labels=LABELS, spark=spark, split_bytes=big.stat().st_size // 5, book=BOOK
    )
    got = totals.toArrow()
    assert got.to_pylist() == single.summary(BY).to_pylist()
    assert sum(got.column("total_cost").to_pylist()) == single.total_cost
    assert single.total_cost != tokenprice.price_logs(str(big)).total_cost  # the discount reached the executors
    assert _rejects(rejects) == rejects_by_reason(single.rejects)
    assert sum(_rejects(rejects).values()) == single.rows_rejected > 0


def test_lines_of_a_text_frame_priced_rows_and_rejects(spark: Any, big: Path) -> None:
    single = tokenprice.price_logs(str(big))
    priced, rejects = tokenprice.spark.price_logs(spark.read.text(str(big)), labels=LABELS)
    assert priced.count() == single.rows_priced
    assert rejects.count() == single.rows_rejected
    table = priced.select("total_cost", "tenant", "usage_source").toArrow()
    assert pc.sum(table.column("total_cost")).as_py() == single.total_cost
    assert "counted" in table.column("usage_source").to_pylist()  # records without usage counted, as price_logs does
    assert sorted(rejects.toArrow().column("excerpt").to_pylist()) == sorted(
        single.rejects.column("excerpt").to_pylist()
    )
    assert set(BAD[0:1]) <= set(rejects.toArrow().column("excerpt").to_pylist())


def test_usage_table_with_a_discounted_book(spark: Any) -> None:
    table = usage_table()
    priced, rejected = tokenprice.spark.price(spark.createDataFrame(table), book=BOOK)
    from pyspark.sql import functions as F

    grouped = priced.groupBy("tenant").agg(
        F.count("*").alias("total_cost_count"), F.sum("total_cost").alias("total_cost_sum")
    )
    got = sorted(grouped.toArrow().to_pylist(), key=lambda r: (r["tenant"] is None, r["tenant"]))
    assert got == local_totals(table, ["tenant"], book=BOOK)
    local = tokenprice.price_table(table, book=BOOK)
    assert rejected.count() == local.num_rows - local.column("status").null_count > 0


def _reads_a_cache(frame: Any, capsys: pytest.CaptureFixture[str]) -> bool:
    """Whether a frame's plan reads a cached frame (``explain`` prints it: ``InMemoryRelation``)."""
    capsys.readouterr()
    frame.explain()
    return "InMemoryRelation" in capsys.readouterr().out


def test_usage_table_in_one_lazy_frame_split_later(spark: Any, capsys: pytest.CaptureFixture[str]) -> None:
    spark.catalog.clearCache()  # Spark reuses a cache for any frame of the same plan: an earlier test's
    table = usage_table()
    frame = spark.createDataFrame(table)
    one = tokenprice.spark.price(frame, split=False, book=BOOK)
    assert not _reads_a_cache(one, capsys)  # lazy: a job that sums it prices each row once
    priced, rejected = tokenprice.spark.price(frame, book=BOOK)
    assert _reads_a_cache(priced, capsys) and _reads_a_cache(rejected, capsys)  # filters of one cached computation
    kept, bad = tokenprice.spark.split_rejects(one)
    assert _reads_a_cache(kept, capsys) and _reads_a_cache(bad, capsys) and one.is_cached
    two = (priced.toArrow(), rejected.toArrow())
    scale_cases.check_one_table_frame(one.toArrow(), two, (kept.toArrow(), bad.toArrow()), table, book=BOOK)
    # Uncached, each of the two frames prices the input again: the same rows.
    one.unpersist()
    lazy = tokenprice.spark.split_rejects(tokenprice.spark.price(frame, split=False, book=BOOK), cache=False)
    assert not _reads_a_cache(lazy[0], capsys) and [f.count() for f in lazy] == [f.num_rows for f in two]
    spark.catalog.clearCache()


def test_log_lines_in_one_lazy_frame_split_later(spark: Any, big: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spark.catalog.clearCache()
    single = tokenprice.price_logs(str(big))
    split = big.stat().st_size // 3
    one = tokenprice.spark.price_logs(str(big), labels=LABELS, spark=spark, split_bytes=split, split=False)
    assert not _reads_a_cache(one, capsys)
    assert one.schema == tokenprice.spark.spark_schema(tokenprice.log_schema(LABELS))
    lines, rejects = tokenprice.spark.price_logs(str(big), labels=LABELS, spark=spark, split_bytes=split)
    kept, bad = tokenprice.spark.split_rejects(one)
    scale_cases.check_one_log_frame(
        one.toArrow(), (lines.toArrow(), rejects.toArrow()), (kept.toArrow(), bad.toArrow()), single
    )
    assert _reads_a_cache(kept, capsys) and _reads_a_cache(lines, capsys)
    spark.catalog.clearCache()
    with pytest.raises(tokenprice.InvalidArgumentError, match="split=False"):
        tokenprice.spark.price_logs(str(big), by=BY, labels=LABELS, spark=spark, split=False)
    with pytest.raises(tokenprice.InvalidArgumentError, match="no status column"):
        tokenprice.spark.split_rejects(spark.read.text(str(big)))


def test_a_session_in_los_angeles_prices_naive_timestamps_at_their_local_time(spark: Any) -> None:
    from pyspark.sql import functions as F

    table = usage_table(20_000, seed=7)
    expected = local_totals(table, ["tenant"])
    spark.conf.set("spark.sql.session.timeZone", "America/Los_Angeles")
    try:
        instants = spark.createDataFrame(table)
        # The same instants as wall times in Los Angeles, without a zone: what a TimestampNTZ column holds.
        naive = instants.withColumn("timestamp", F.col("timestamp").cast("timestamp_ntz"))
        assert dict(naive.dtypes)["timestamp"] == "timestamp_ntz"
        for frame in (naive, instants):
            priced, _ = tokenprice.spark.price(frame)
            grouped = priced.groupBy("tenant").agg(
                F.count("*").alias("total_cost_count"), F.sum("total_cost").alias("total_cost_sum")
            )
            got = sorted(grouped.toArrow().to_pylist(), key=lambda r: (r["tenant"] is None, r["tenant"]))
            assert got == expected
        # A price that changes at midnight UTC on April 1st: 20:00 on March 31st in Los Angeles is after it.
        row = spark.createDataFrame(
            [("my-llama", "selfhosted", dt.datetime(2025, 3, 31, 20, 0), 1_000_000)],
            "model string, provider string, timestamp timestamp_ntz, input_tokens long",
        )
        priced, _ = tokenprice.spark.price(row, book=PRICE_CHANGE, provider="provider")
        assert [r["total_cost"] for r in priced.collect()] == [Decimal(1)]  # read as UTC it would be 2
        priced, _ = tokenprice.spark.price(row, book=PRICE_CHANGE, provider="provider", tz="UTC")
        assert [r["total_cost"] for r in priced.collect()] == [Decimal(2)]
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")


def test_decimal_sums_stay_exact_past_float_precision(spark: Any) -> None:
    # 10^15 USD + 10^-18 USD: a float sum loses the last part; Spark's decimal(38, 18) keeps it.
    part = tokenprice.spark.spark_schema(tokenprice.log_schema(["tenant"]))
    assert part["total_cost"].dataType.precision == 38 and part["total_cost"].dataType.scale == 18
    frame = spark.createDataFrame([(Decimal("1e15"),), (Decimal("1e-18"),)], "x decimal(38,18)")
    assert frame.groupBy().sum("x").collect()[0][0] == Decimal("1000000000000000.000000000000000001")


def test_a_sum_past_10_to_the_20_usd_overflows_under_ansi_mode(spark: Any) -> None:
    # decimal(38, 18) holds 20 digits before the point: Spark's sum of two 6e19 USD amounts does not fit.
    before = spark.conf.get("spark.sql.ansi.enabled")
    spark.conf.set("spark.sql.ansi.enabled", "true")
    try:
        frame = spark.createDataFrame([(Decimal("6e19"),), (Decimal("6e19"),)], "x decimal(38,18)")
        with pytest.raises(Exception, match="(?i)overflow|out_of_range|cannot be represented"):
            frame.groupBy().sum("x").collect()
    finally:
        spark.conf.set("spark.sql.ansi.enabled", before)

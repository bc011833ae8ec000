"""tokenprice.ray on Ray Data (a local Ray of 2 CPUs): totals equal one machine's to the last digit, rejects kept,
a discounted book shipped to the tasks. With CI=true a missing Ray fails the run (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import tokenprice

from scale_cases import BOOK, BY, LABELS, SAMPLE, big_log, local_totals, rejects_by_reason, usage_table

pytestmark = pytest.mark.engines


@pytest.fixture(scope="module")
def ray() -> Iterator[Any]:
    module = pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'")
    pytest.importorskip("ray.data", reason="Ray Data is not installed: pip install -e '.[ray]'")
    import tokenprice.ray  # noqa: F401

    module.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    module.data.DataContext.get_current().enable_progress_bars = False
    yield module
    module.shutdown()


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return big_log(tmp_path_factory.mktemp("ray"))


def _table(ds: Any) -> pa.Table:
    import ray

    return pa.concat_tables([pa.table(t) for t in ray.get(ds.to_arrow_refs())])


def test_sample_logs_totals_equal_one_machine(ray: Any) -> None:
    single = tokenprice.price_logs(str(SAMPLE))
    totals, rejects = tokenprice.ray.price_logs(str(SAMPLE), by=BY, labels=LABELS)
    assert _table(totals).to_pylist() == single.summary(BY).to_pylist()
    assert {r["reason"]: r["rows"] for r in _table(rejects).to_pylist()} == rejects_by_reason(single.rejects)


def test_100k_lines_in_byte_ranges_with_a_discounted_book(ray: Any, big: Path) -> None:
    single = tokenprice.price_logs(str(big), book=BOOK)
    totals, rejects = tokenprice.ray.price_logs(
        str(big), by=BY, labels=LABELS, split_bytes=big.stat().st_size // 4, book=BOOK
    )
    assert _table(totals).to_pylist() == single.summary(BY).to_pylist()
    assert {r["reason"]: r["rows"] for r in _table(rejects).to_pylist()} == rejects_by_reason(single.rejects)


def test_a_dataset_of_lines_priced_rows_and_rejects(ray: Any, big: Path) -> None:
    single = tokenprice.price_logs(str(big))
    priced, rejects = tokenprice.ray.price_logs(ray.data.read_text(str(big)), labels=LABELS)
    lines = _table(priced)
    assert lines.num_rows == single.rows_priced
    assert pc.sum(lines.column("total_cost")).as_py() == single.total_cost
    assert _table(rejects).num_rows == single.rows_rejected


def test_usage_table_with_a_discounted_book(ray: Any) -> None:
    table = usage_table()
    priced, rejected = tokenprice.ray.price(ray.data.from_arrow(table), book=BOOK)
    got = _table(priced)
    grouped = got.group_by(["tenant"], use_threads=False).aggregate([("total_cost", "count"), ("total_cost", "sum")])
    assert sorted(grouped.to_pylist(), key=lambda r: (r["tenant"] is None, r["tenant"])) == local_totals(
        table, ["tenant"], book=BOOK
    )
    local = tokenprice.price_table(table, book=BOOK)
    assert _table(rejected).num_rows == local.num_rows - local.column("status").null_count

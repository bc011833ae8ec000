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

import scale_cases
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

    # Ray hands back an empty block without columns for a task that gave no rows (a byte range with no line).
    return pa.concat_tables([pa.table(t) for t in ray.get(ds.to_arrow_refs()) if t.num_columns])


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


def _counted(ray: Any, ds: Any) -> tuple[Any, Any]:
    """``ds`` read through a step that counts the rows it passes (in an actor), and the actor: how many times a
    job read the input."""

    @ray.remote
    class Rows:
        def __init__(self) -> None:
            self.n = 0

        def add(self, n: int) -> None:
            self.n += n

        def get(self) -> int:
            return self.n

    rows = Rows.remote()  # type: ignore[attr-defined]

    def count(t: pa.Table) -> pa.Table:
        ray.get(rows.add.remote(t.num_rows))
        return t

    return ds.map_batches(count, batch_format="pyarrow", batch_size=None), rows


def test_usage_table_in_one_lazy_dataset_split_later(ray: Any) -> None:
    table = usage_table()
    n = table.num_rows
    data, read = _counted(ray, ray.data.from_arrow(table))
    one = tokenprice.ray.price(data, split=False, book=BOOK)
    assert ray.get(read.get.remote()) == 0  # lazy
    got = _table(one)
    assert ray.get(read.get.remote()) == n  # read once by a job that takes it whole
    priced, rejected = tokenprice.ray.price(data, book=BOOK)
    two = (_table(priced), _table(rejected))
    assert ray.get(read.get.remote()) == 2 * n  # the two datasets of one materialized run: read once
    kept, bad = tokenprice.ray.split_rejects(one)
    split = (_table(kept), _table(bad))
    assert ray.get(read.get.remote()) == 3 * n
    scale_cases.check_one_table_frame(got, two, split, table, book=BOOK)
    lazy = tokenprice.ray.split_rejects(one, cache=False)
    assert [_table(d).num_rows for d in lazy] == [t.num_rows for t in two]
    assert ray.get(read.get.remote()) == 5 * n  # not materialized: each of the two read the input


def test_log_lines_in_one_lazy_dataset_split_later(ray: Any, big: Path) -> None:
    single = tokenprice.price_logs(str(big))
    split = big.stat().st_size // 3
    one = tokenprice.ray.price_logs(str(big), labels=LABELS, split_bytes=split, split=False)
    lines, rejects = tokenprice.ray.price_logs(str(big), labels=LABELS, split_bytes=split)
    kept, bad = tokenprice.ray.split_rejects(one)
    got = _table(one)
    assert got.schema == tokenprice.log_schema(LABELS)
    scale_cases.check_one_log_frame(got, (_table(lines), _table(rejects)), (_table(kept), _table(bad)), single)
    with pytest.raises(tokenprice.InvalidArgumentError, match="split=False"):
        tokenprice.ray.price_logs(str(big), by=BY, labels=LABELS, split=False)

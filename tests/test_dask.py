"""tokenprice.dask on a distributed LocalCluster of 2 worker processes: totals equal one machine's to the last
digit, rejects kept, a discounted book shipped to the workers, tokenized by content. With CI=true a missing Dask
fails the run (tests/conftest.py)."""

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
def client() -> Iterator[Any]:
    pytest.importorskip("dask.dataframe", reason="Dask is not installed: pip install -e '.[dask]'")
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    import tokenprice.dask  # noqa: F401

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as c:
            yield c


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return big_log(tmp_path_factory.mktemp("dask"))


def _table(frame: Any) -> pa.Table:
    return pa.Table.from_pandas(frame.compute(), preserve_index=False)


def test_sample_logs_totals_equal_one_machine(client: Any) -> None:
    single = tokenprice.price_logs(str(SAMPLE))
    totals, rejects = tokenprice.dask.price_logs(str(SAMPLE), by=BY, labels=LABELS)
    assert _table(totals).to_pylist() == single.summary(BY).to_pylist()
    assert {r["reason"]: r["rows"] for r in _table(rejects).to_pylist()} == rejects_by_reason(single.rejects)


def test_100k_lines_in_byte_ranges_with_a_discounted_book(client: Any, big: Path) -> None:
    single = tokenprice.price_logs(str(big), book=BOOK)
    totals, rejects = tokenprice.dask.price_logs(
        str(big), by=BY, labels=LABELS, split_bytes=big.stat().st_size // 4, book=BOOK
    )
    assert _table(totals).to_pylist() == single.summary(BY).to_pylist()
    assert {r["reason"]: r["rows"] for r in _table(rejects).to_pylist()} == rejects_by_reason(single.rejects)
    # Rows of both kinds, with the lines split: counts and money equal, rejects as price_logs gives them.
    priced, rejected = tokenprice.dask.price_logs(str(big), labels=LABELS, split_bytes=big.stat().st_size // 3)
    lines = _table(priced)
    assert lines.num_rows == single.rows_priced
    assert pc.sum(lines.column("total_cost")).as_py() == tokenprice.price_logs(str(big)).total_cost
    assert _table(rejected).num_rows == single.rows_rejected


def test_a_frame_of_lines(client: Any, big: Path) -> None:
    import dask.dataframe as dd
    import pandas as pd

    text = big.read_text(encoding="utf-8").splitlines()
    frame = dd.from_pandas(pd.DataFrame({"value": pd.array(text, dtype=pd.ArrowDtype(pa.string()))}), npartitions=4)
    single = tokenprice.price_logs(str(big))
    totals, _ = tokenprice.dask.price_logs(frame, by="tenant", labels=LABELS)
    assert _table(totals).to_pylist() == single.summary("tenant").to_pylist()


def test_usage_table_with_a_discounted_book(client: Any) -> None:
    import dask.dataframe as dd
    import pandas as pd

    table = usage_table()
    frame = dd.from_pandas(table.to_pandas(types_mapper=pd.ArrowDtype), npartitions=4)
    priced, rejected = tokenprice.dask.price(frame, book=BOOK)
    got = pa.Table.from_pandas(priced.compute(), preserve_index=False)
    grouped = got.group_by(["tenant"], use_threads=False).aggregate([("total_cost", "count"), ("total_cost", "sum")])
    assert sorted(grouped.to_pylist(), key=lambda r: (r["tenant"] is None, r["tenant"])) == local_totals(
        table, ["tenant"], book=BOOK
    )
    local = tokenprice.price_table(table, book=BOOK)
    assert len(rejected.compute()) == local.num_rows - local.column("status").null_count


def _persisted(frame: Any) -> bool:
    """Whether a frame reads partitions held in the workers (a persisted frame's graph holds their futures)."""
    from distributed import Future

    return any(isinstance(v, Future) for v in frame.__dask_graph__().values())


def test_usage_table_in_one_lazy_frame_split_later(client: Any) -> None:
    import dask.dataframe as dd
    import pandas as pd

    table = usage_table()
    frame = dd.from_pandas(table.to_pandas(types_mapper=pd.ArrowDtype), npartitions=4)
    one = tokenprice.dask.price(frame, split=False, book=BOOK)
    assert not _persisted(one)  # lazy: a job that sums it prices each row once
    priced, rejected = tokenprice.dask.price(frame, book=BOOK)
    assert _persisted(priced) and _persisted(rejected)  # views of one persisted computation
    kept, bad = tokenprice.dask.split_rejects(one)
    assert _persisted(kept) and _persisted(bad) and not _persisted(one)
    two = (_table(priced), _table(rejected))
    scale_cases.check_one_table_frame(_table(one), two, (_table(kept), _table(bad)), table, book=BOOK)
    lazy = tokenprice.dask.split_rejects(one, cache=False)
    assert not _persisted(lazy[0]) and [len(f.compute()) for f in lazy] == [t.num_rows for t in two]


def test_log_lines_in_one_lazy_frame_split_later(client: Any, big: Path) -> None:
    single = tokenprice.price_logs(str(big))
    split = big.stat().st_size // 3
    one = tokenprice.dask.price_logs(str(big), labels=LABELS, split_bytes=split, split=False)
    assert not _persisted(one)
    lines, rejects = tokenprice.dask.price_logs(str(big), labels=LABELS, split_bytes=split)
    kept, bad = tokenprice.dask.split_rejects(one)
    assert _persisted(kept) and _persisted(lines)
    got = _table(one)
    assert got.schema == tokenprice.log_schema(LABELS)
    scale_cases.check_one_log_frame(got, (_table(lines), _table(rejects)), (_table(kept), _table(bad)), single)
    with pytest.raises(tokenprice.InvalidArgumentError, match="split=False"):
        tokenprice.dask.price_logs(str(big), by=BY, labels=LABELS, split=False)
    with pytest.raises(tokenprice.InvalidArgumentError, match="no status column"):
        tokenprice.dask.split_rejects(one[["source", "line"]])


def test_a_book_tokenizes_by_content(client: Any) -> None:
    from dask.base import tokenize

    again = tokenprice.PriceBook.default().with_overrides({"discounts": {"openai": "0.8", "anthropic": "0.9"}})
    assert tokenize(BOOK) == tokenize(again)
    assert tokenize(BOOK) != tokenize(tokenprice.PriceBook.default())
    # In a worker process too: the book pickled there and back tokenizes the same.
    assert client.submit(tokenize, BOOK, pure=False).result() == tokenize(BOOK)

"""The engine-neutral Arrow layer: a batch in, a batch of a schema known in advance out; partial sums that merge to
what one run's summary() gives, to the last digit, rejects included; byte ranges that tile a file."""

from __future__ import annotations

import gzip
import json
import pickle
import random
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import tokenprice
from tokenprice import _batches

from scale_cases import PRICE_CHANGE

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "logs" / "gateway.jsonl.gz"
LABELS = ["tenant", "feature"]


@pytest.fixture(scope="module")
def lines() -> list[str]:
    """The sample gateway log's lines, and lines no reader takes (rejects)."""
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
        text = [line.rstrip("\n") for line in f if line.strip()]
    return [*text, "not json", '{"model": "gpt-4o"}', '{"id": "x", "model": "no-such-model", "usage": {}}']


@pytest.fixture(scope="module")
def single(lines: list[str]) -> tokenprice.PricedLogs:
    return tokenprice.price_logs(lines)


def test_log_schema_is_known_in_advance_with_plain_types_and_unique_names() -> None:
    schema = tokenprice.log_schema(["tenant", "status", "reason"])
    names = schema.names
    assert len(names) == len(set(names))
    # Labels named like a column are `metadata.<name>`, as the core names them.
    assert {"tenant", "metadata.status", "metadata.reason", "status", "reason", "excerpt"} <= set(names)
    for field in schema:
        assert field.nullable, field
        assert not pa.types.is_dictionary(field.type), field
        assert not pa.types.is_unsigned_integer(field.type), field
        assert not pa.types.is_large_string(field.type), field
    for count in tokenprice._core.usage_fields():
        assert schema.field(count).type == pa.int64()
    assert schema.field("total_cost").type == pa.decimal128(38, 18)


def test_a_batch_gets_the_schema_whatever_labels_it_holds(lines: list[str]) -> None:
    schema = tokenprice.log_schema(LABELS)
    for part in (lines[:3], lines[-3:], [], ['{"model": "gpt-4o", "usage": {"prompt_tokens": 1}}']):
        batch = tokenprice.price_log_batch(pa.array(part, pa.string()), LABELS)
        assert isinstance(batch, pa.RecordBatch)
        assert batch.schema == schema
        assert batch.num_rows == len(part)


def test_priced_batch_equals_price_logs_rows_and_rejects(lines: list[str], single: tokenprice.PricedLogs) -> None:
    batch = tokenprice.price_log_batch(pa.array(lines), LABELS, source="table")
    priced, rejects = tokenprice.split_rejects(batch)
    assert priced.num_rows == single.rows_priced and rejects.num_rows == single.rows_rejected
    assert rejects.to_pylist() == single.rejects.to_pylist()
    assert pc.sum(priced.column("total_cost")).as_py() == single.total_cost
    for name in ("id", "tenant", "usage_source", "total_cost", "input_tokens"):
        assert (
            priced.column(name).to_pylist()
            == single.table.column(name).cast(priced.schema.field(name).type).to_pylist()
        )
    # Records without usage are counted, as price_logs counts them.
    assert "counted" in priced.column("usage_source").to_pylist()


def test_price_logs_takes_an_arrow_array_of_lines(lines: list[str], single: tokenprice.PricedLogs) -> None:
    logs = tokenprice.price_logs(pa.array(lines))
    assert logs.total_cost == single.total_cost and logs.rows_rejected == single.rows_rejected
    chunked = tokenprice.price_logs(pa.chunked_array([lines[:10], lines[10:]]))
    assert chunked.total_cost == single.total_cost


def _chunks(items: list[str], rng: random.Random) -> list[list[str]]:
    cuts = sorted(rng.sample(range(1, len(items)), rng.randint(1, 12)))
    return [items[a:b] for a, b in zip([0, *cuts], [*cuts, len(items)], strict=True)]


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("by", [["tenant", "feature"], "model", None])
def test_partial_sums_of_random_chunks_merge_to_the_summary(
    lines: list[str], single: tokenprice.PricedLogs, seed: int, by: list[str] | str | None
) -> None:
    rng = random.Random(seed)
    shuffled = lines[:]
    rng.shuffle(shuffled)
    chunks = _chunks(shuffled, rng)
    partials = [tokenprice.summarize(tokenprice.price_log_batch(c, LABELS), by) for c in chunks]
    totals, rejects = tokenprice.merge(partials, by)
    expected = single.summary(by)
    assert totals.to_pylist() == expected.to_pylist()
    assert totals.schema.metadata == expected.schema.metadata
    # The same partial sums without building rows (what the engines run with by=).
    fast = [tokenprice.summarize_log_batch(c, by, LABELS) for c in chunks]
    assert all(p.schema == partials[0].schema for p in fast)
    assert [t.to_pylist() for t in tokenprice.merge(fast, by)] == [totals.to_pylist(), rejects.to_pylist()]
    reasons = single.rejects.group_by("reason").aggregate([("reason", "count")]).to_pylist()
    assert rejects.to_pylist() == sorted(
        ({"reason": r["reason"], "rows": r["reason_count"]} for r in reasons), key=lambda r: r["reason"]
    )


def test_merge_of_empty_partials_is_an_empty_summary() -> None:
    empty = tokenprice.summarize(tokenprice.price_log_batch([], LABELS), "tenant")
    totals, rejects = tokenprice.merge([empty, empty], "tenant")
    assert totals.num_rows == 0 and rejects.num_rows == 0
    assert totals.column_names == ["tenant", "rows", *tokenprice._core.COST_COLUMNS, "reported_cost"]


def test_usage_table_batch_schema_and_no_duplicated_status() -> None:
    records = [
        {"model": "gpt-4o", "usage": {"prompt_tokens": 100, "completion_tokens": 5}, "created": 1740830400},
        {"model": "claude-sonnet-4-5", "usage": {"input_tokens": 10, "output_tokens": 3}},
        "not json",
    ]
    usages = tokenprice.extract_usages(records, at="2025-03-01")
    priced = tokenprice.price_table(usages)
    assert priced.column_names.count("status") == 1
    statuses = priced.column("status").to_pylist()
    assert statuses[0] is None and statuses[1] is None and statuses[2] is not None
    batch = tokenprice.price_table_batch(usages)
    assert batch.schema == tokenprice.price_table_schema(usages.schema)
    assert len(set(batch.schema.names)) == len(batch.schema.names)
    assert not any(pa.types.is_unsigned_integer(f.type) or pa.types.is_dictionary(f.type) for f in batch.schema)


def test_naive_timestamps_are_wall_time_in_the_session_zone() -> None:
    # 2025-03-31 20:00 in Los Angeles is 03:00 UTC on April 1st (the new price); read as UTC it is March 31st.
    naive = pa.table(
        {
            "model": ["my-llama"],
            "provider": ["selfhosted"],
            "timestamp": pa.array([1743451200_000000], pa.timestamp("us")),
            "input_tokens": [1_000_000],
        }
    )
    in_la = tokenprice.price_table_batch(naive, tz="America/Los_Angeles", book=PRICE_CHANGE, provider="provider")
    as_utc = tokenprice.price_table_batch(naive, book=PRICE_CHANGE, provider="provider")
    assert in_la.column("total_cost").to_pylist() == [Decimal(1)]
    assert as_utc.column("total_cost").to_pylist() == [Decimal(2)]
    assert in_la.column("timestamp").type == pa.timestamp("us")  # the input's own column, as it came
    # A zoned column is an instant already: the zone does not move it.
    zoned = naive.set_column(2, "timestamp", naive.column("timestamp").cast(pa.timestamp("us", tz="UTC")))
    assert tokenprice.price_table_batch(zoned, tz="America/Los_Angeles", book=PRICE_CHANGE, provider="provider").column(
        "total_cost"
    ).to_pylist() == [Decimal(2)]


def _tiled(path: Path, cuts: list[int]) -> tuple[pa.Table, pa.Table]:
    """The merged totals and rejects of read tasks over byte ranges cut at ``cuts`` (read by the core)."""
    size = path.stat().st_size
    bounds = [0, *cuts, size]
    job = _batches.Job(LABELS, LABELS)
    return job.merge(job.summarize(job.task((str(path), a, b))) for a, b in zip(bounds, bounds[1:], strict=False))


@pytest.mark.parametrize("seed", range(8))
def test_any_byte_ranges_read_every_line_once(
    tmp_path: Path, lines: list[str], single: tokenprice.PricedLogs, seed: int
) -> None:
    # The core's own test cuts random files at random bytes (src/ledger/read.rs); here, the sample logs priced.
    rng = random.Random(seed)
    path = tmp_path / "logs.jsonl"
    body = "\n".join(lines) + ("\n" if seed % 2 else "")  # with and without a final newline
    path.write_text(body.replace("\n", "\r\n") if seed == 3 else body, encoding="utf-8")
    size = path.stat().st_size
    want = single.summary(LABELS).to_pylist()
    cuts = sorted({rng.randrange(1, size) for _ in range(rng.randint(1, 40))})
    totals, rejects = _tiled(path, cuts)
    assert totals.to_pylist() == want
    assert sum(rejects.column("rows").to_pylist()) == single.rejects.num_rows
    # Cuts at every byte near a line boundary too.
    first = len(lines[0].encode())
    assert _tiled(path, [first - 1, first, first + 1, first + 2])[0].to_pylist() == want


def test_a_reject_in_a_range_names_the_file_the_range_and_its_line_there(tmp_path: Path) -> None:
    path = tmp_path / "logs.jsonl"
    good = '{"created": 1735689600, "model": "gpt-4o", "usage": {"prompt_tokens": 1, "completion_tokens": 2}}'
    path.write_text(f"{good}\n{good}\n\nnot json\n{good}\n", encoding="utf-8")
    start = len(good) + 5  # inside the second line: the range starts with the blank line after it
    priced, rejects = _batches.split_rejects(_batches.price_log_task((str(path), start, path.stat().st_size)))
    assert priced.num_rows == 1
    assert rejects.to_pylist() == [
        {
            "source": f"{path}@{start}-{path.stat().st_size}",
            "line": 2,
            "reason": rejects["reason"][0].as_py(),
            "excerpt": "not json",
        }
    ]
    assert "JSON" in rejects["reason"][0].as_py()


def test_split_files_give_the_same_totals(tmp_path: Path, lines: list[str], single: tokenprice.PricedLogs) -> None:
    path = tmp_path / "logs.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for size in (10_000, 333_333, 1 << 30):
        job = _batches.Job(LABELS, ["tenant", "feature"])
        partials = [job.summarize(job.task(t)) for t in _batches.tasks([str(path)], size)]
        totals, _ = job.merge(partials)
        assert totals.to_pylist() == single.summary(["tenant", "feature"]).to_pylist()
        tasks = _batches.task_table(str(path), size)
        assert job.merge(job.partial_tasks(tasks))[0].to_pylist() == totals.to_pylist()
    # A compressed file is one task, read by the core's reader (its lines numbered as in the file).
    assert _batches.tasks([str(SAMPLE)], 10) == [(str(SAMPLE), 0, -1)]
    whole = _batches.Job(LABELS, "tenant")
    assert whole.merge([whole.partial_tasks(_batches.task_table(str(SAMPLE), 10)).__next__()])[0].to_pylist() == (
        tokenprice.price_logs(str(SAMPLE)).summary("tenant").to_pylist()
    )
    batch = _batches.Job(LABELS).task((str(SAMPLE), 0, -1))
    _, rejects = tokenprice.split_rejects(batch)
    whole = tokenprice.price_logs(str(SAMPLE))
    assert rejects.to_pylist() == whole.rejects.to_pylist()


def test_job_ships_a_custom_book_by_content_and_unpickles_it_once() -> None:
    book = tokenprice.PriceBook.default().with_overrides({"discounts": {"openai": "0.8"}})
    job = pickle.loads(pickle.dumps(_batches.Job(LABELS, book=book)))
    assert job.book == book and job.book is job.book  # cached per process
    price = tokenprice.price(tokenprice.Usage(input_tokens=1_000_000), model="gpt-4o", at="2025-03-01", book=job.book)
    plain = tokenprice.price(tokenprice.Usage(input_tokens=1_000_000), model="gpt-4o", at="2025-03-01")
    assert price.total == plain.total * Decimal("0.8")


def test_every_public_object_pickles() -> None:
    book = tokenprice.PriceBook.default().with_overrides({"discounts": {"openai": "0.5"}})
    usage = tokenprice.Usage(input_tokens=10, output_tokens=2)
    record = tokenprice.extract_usage(
        {"model": "gpt-4o", "usage": {"prompt_tokens": 10, "completion_tokens": 2}}, at="2025-03-01"
    )
    cost = tokenprice.price(record, book=book)
    for obj in (book, tokenprice.PriceBook.default(), usage, record, cost, tokenprice.get_encoding("o200k_base")):
        again = pickle.loads(pickle.dumps(obj))
        assert type(again) is type(obj)
    assert pickle.loads(pickle.dumps(cost)).total == cost.total
    assert pickle.loads(pickle.dumps(book)) == book
    token = book.__dask_tokenize__()
    assert token == pickle.loads(pickle.dumps(book)).__dask_tokenize__()
    assert token != tokenprice.PriceBook.default().__dask_tokenize__()


def test_rows_as_json_records_and_an_unknown_zone() -> None:
    with pytest.raises(tokenprice.InvalidArgumentError, match="time zone"):
        tokenprice.price_table_batch(
            pa.table({"model": ["gpt-4o"], "timestamp": pa.array([0], pa.timestamp("us")), "input_tokens": [1]}),
            tz="Mars/Olympus",
        )
    batch = tokenprice.price_log_batch([json.loads('{"model": "gpt-4o"}')], LABELS)
    assert batch.column("status").to_pylist() == ["rejected"]


def test_extract_usages_labels_given_up_front_fix_the_columns(lines: list[str]) -> None:
    schemas = {
        tokenprice.extract_usages(part, labels=["tenant", "nope"]).schema for part in (lines[:2], lines[-3:], [])
    }
    assert len(schemas) == 1
    (schema,) = schemas
    assert "tenant" in schema.names and "nope" in schema.names and "feature" not in schema.names
    assert set(tokenprice._core.usage_fields()) <= set(schema.names)
    # Without labels= the columns follow what the batch holds.
    assert "tenant" not in tokenprice.extract_usages(lines[-2:]).column_names


def test_extract_usages_counts_records_without_usage_as_price_logs_does(
    lines: list[str], single: tokenprice.PricedLogs
) -> None:
    usages = tokenprice.extract_usages(lines)
    sources = usages.column("usage_source").to_pylist()
    logs = single.table.column("usage_source").to_pylist()
    assert sources.count("counted") == logs.count("counted") > 0
    # The counted rows' tokens are the ledger's.
    counted = usages.filter(pc.equal(usages.column("usage_source"), "counted"))
    ledger = single.table.filter(pc.equal(single.table.column("usage_source"), "counted"))
    assert sum(counted.column("input_tokens").to_pylist()) == sum(ledger.column("input_tokens").to_pylist())
    assert sum(counted.column("output_tokens").to_pylist()) == sum(ledger.column("output_tokens").to_pylist())
    priced = tokenprice.price_table(usages, provider="provider", cache_hit="cache_hit")
    assert priced.column("input_status").to_pylist() == usages.column("status").to_pylist()
    counted_cost = pc.sum(priced.filter(pc.equal(priced.column("usage_source"), "counted")).column("total_cost"))
    assert counted_cost.as_py() == pc.sum(ledger.column("total_cost")).as_py() > 0


def test_partials_combined_in_a_tree_merge_to_the_same_totals(lines: list[str], single: tokenprice.PricedLogs) -> None:
    job = _batches.Job(LABELS, LABELS)
    partials = [job.partial_lines(lines[i : i + 97]) for i in range(0, len(lines), 97)]
    combined = [job.combine(partials[i : i + 3]) for i in range(0, len(partials), 3)]
    assert all(c.schema == job.partial_schema() for c in combined)
    # Fewer rows than the partials held: a group appears once per combined partial.
    assert sum(c.num_rows for c in combined) < sum(p.num_rows for p in partials)
    top = job.combine(combined)
    totals, rejects = job.merge([top])
    assert totals.to_pylist() == single.summary(LABELS).to_pylist()
    assert rejects.to_pylist() == job.merge(partials)[1].to_pylist()
    assert sum(rejects.column("rows").to_pylist()) == single.rejects.num_rows


def test_split_rejects_of_usage_rows_keeps_every_column() -> None:
    table = pa.table({"model": ["gpt-4o", "no-such-model"], "input_tokens": [10, 10]})
    batch = tokenprice.price_table_batch(table, timestamp=None, default_at="2025-06-01")
    priced, rejected = tokenprice.split_rejects(batch)
    assert priced.column_names == rejected.column_names == batch.schema.names
    assert priced.column("model").to_pylist() == ["gpt-4o"] and priced.column("status").to_pylist() == [None]
    assert rejected.column("model").to_pylist() == ["no-such-model"]
    assert "no-such-model" in rejected.column("status")[0].as_py()  # why, as price_table says it
    with pytest.raises(tokenprice.InvalidArgumentError, match="no status column"):
        tokenprice.split_rejects(table)

"""What price(), Usage and price_table accept, and what they refuse: vendors' count-column names and their cache
rules, counts and times that are not counts or times, exact amounts at any size, and pickling."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import pickle
from decimal import Decimal
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import tokenprice
from tokenprice import PriceBook, Usage, price, price_table

AT = "2025-10-01"


def cost(model: str, **fields: int) -> Decimal:
    return price(Usage(**fields), model, at=AT).total


# ---------------------------------------------------------------- count columns by vendor


@pytest.mark.parametrize(
    ("columns", "convention", "usage"),
    [
        (
            {"prompt_tokens": 1000, "completion_tokens": 50, "cached_tokens": 400},
            "openai",
            {"input_tokens": 1000, "output_tokens": 50, "cache_read_tokens": 400},
        ),
        (
            {"input_tokens": 1000, "output_tokens": 50, "cached_tokens": 400},
            "openai-responses",
            {"input_tokens": 1000, "output_tokens": 50, "cache_read_tokens": 400},
        ),
        (
            # Anthropic's input leaves the cache out: 1000 + 400 + 100 prompt tokens.
            {
                "input_tokens": 1000,
                "output_tokens": 50,
                "cache_read_input_tokens": 400,
                "cache_creation_input_tokens": 100,
            },
            "anthropic",
            {"input_tokens": 1500, "output_tokens": 50, "cache_read_tokens": 400, "cache_write_tokens": 100},
        ),
        (
            {"inputTokens": 1000, "outputTokens": 50, "cacheReadInputTokens": 400, "cacheWriteInputTokens": 100},
            "bedrock",
            {"input_tokens": 1500, "output_tokens": 50, "cache_read_tokens": 400, "cache_write_tokens": 100},
        ),
        (
            # Gemini's thoughts are billed as output but left out of candidatesTokenCount.
            {
                "promptTokenCount": 1000,
                "candidatesTokenCount": 50,
                "cachedContentTokenCount": 400,
                "thoughtsTokenCount": 30,
            },
            "gemini",
            {"input_tokens": 1000, "output_tokens": 80, "cache_read_tokens": 400, "reasoning_tokens": 30},
        ),
        ({"tokens_in": 1000, "tokens_out": 50}, "cloudflare", {"input_tokens": 1000, "output_tokens": 50}),
    ],
)
def test_vendor_count_columns_price_like_price(columns: dict[str, int], convention: str, usage: dict[str, int]) -> None:
    model = "claude-sonnet-4-5" if convention in ("anthropic", "bedrock") else "gpt-4o"
    if convention == "gemini":
        model = "gemini-2.5-pro"
    table = pa.table({"model": [model], **{k: [v] for k, v in columns.items()}})
    out = price_table(table, default_at=AT)
    assert out.column("status").to_pylist() == [None]
    assert out.column("total_cost").to_pylist() == [cost(model, **usage)]
    rule = out.schema.metadata[b"usage_convention"].decode()
    assert rule.startswith(convention + ":"), rule
    frame = price_table(pd.DataFrame(table.to_pydict()), default_at=AT)
    assert frame.attrs["usage_convention"] == rule
    for keep_columns in (True, False):
        polars = price_table(pl.from_arrow(table), default_at=AT, keep_columns=keep_columns)
        assert isinstance(polars, pl.DataFrame) and polars.attrs == {"usage_convention": rule}
        assert polars["total_cost"].to_list() == [cost(model, **usage)]


def test_no_count_column_is_an_error_naming_what_it_saw_and_knows() -> None:
    table = pa.table({"model": ["gpt-4o"], "tokens": [5], "n_out": [1]})
    with pytest.raises(tokenprice.InvalidArgumentError, match="no count column recognised") as e:
        price_table(table, default_at=AT)
    assert "model, tokens, n_out" in str(e.value) and "prompt_tokens" in str(e.value)


def test_a_mix_with_no_single_reading_and_duplicate_counts_are_errors() -> None:
    mixed = pa.table({"model": ["gpt-4o"], "prompt_tokens": [10], "cache_read_input_tokens": [5]})
    with pytest.raises(tokenprice.InvalidArgumentError, match="no single reading"):
        price_table(mixed, default_at=AT)
    twice = pa.table({"model": ["gpt-4o"], "prompt_tokens": [10], "input_tokens": [10]})
    with pytest.raises(tokenprice.InvalidArgumentError, match="both give input_tokens"):
        price_table(twice, default_at=AT)
    # columns= settles it: the mapped column wins.
    out = price_table(twice, default_at=AT, columns={"input_tokens": "prompt_tokens"})
    assert out.column("total_cost").to_pylist() == [cost("gpt-4o", input_tokens=10)]


@pytest.mark.parametrize("library", ["pyarrow", "pandas", "polars"])
def test_an_input_status_column_is_kept_as_input_status(library: str) -> None:
    table = pa.table({"model": ["gpt-4o", None], "input_tokens": [10, 0], "status": ["ok", "rejected"]})
    data = {"pyarrow": table, "pandas": table.to_pandas(), "polars": pl.from_arrow(table)}[library]
    out = pa.table(price_table(data, default_at=AT))
    assert out.column_names.count("status") == 1
    assert out.column("input_status").to_pylist() == ["ok", "rejected"]
    assert out.column("status").to_pylist()[0] is None and out.column("status").to_pylist()[1] is not None
    both = table.append_column("input_status", pa.array(["a", "b"]))
    with pytest.raises(tokenprice.InvalidArgumentError, match="input_status"):
        price_table(both, default_at=AT)


@pytest.mark.parametrize("name", ["total_cost", "priced_model", "price_from"])
def test_input_columns_named_like_result_columns_are_errors(name: str) -> None:
    table = pa.table({"model": ["gpt-4o"], "input_tokens": [10], name: ["x"]})
    with pytest.raises(tokenprice.InvalidArgumentError, match=f"already has column.*{name}"):
        price_table(table, default_at=AT)
    out = price_table(table, default_at=AT, keep_columns=False)
    assert out.column_names.count(name) == 1


# ---------------------------------------------------------------- counts and times that are not


def test_missing_and_impossible_counts_reject_their_row_naming_field_and_value() -> None:
    frame = pd.DataFrame(
        {
            "model": ["gpt-4o"] * 5,
            "prompt_tokens": [100.0, float("nan"), float("inf"), -3.0, 1.5],
            "completion_tokens": [1, 1, 1, 1, 1],
        }
    )
    status = list(price_table(frame, default_at=AT)["status"])
    assert pd.isna(status[0])
    assert 'input_tokens (column "prompt_tokens") is null' in status[1]
    assert "inf is more than 18446744073709551615" in status[2]
    assert "-3 is negative" in status[3]
    assert "1.5 is not a whole number" in status[4]
    nan_kept = pl.DataFrame({"model": ["gpt-4o"], "input_tokens": [float("nan")]})
    assert "NaN is not a number" in price_table(nan_kept, default_at=AT)["status"][0]


def test_mixed_type_object_column_is_a_tokenprice_error_naming_the_column() -> None:
    frame = pd.DataFrame({"model": ["gpt-4o", "gpt-4o"], "input_tokens": [5, "many"]})
    with pytest.raises(tokenprice.InvalidTypeError, match="column 'input_tokens'"):
        price_table(frame, default_at=AT)


def test_timestamps_outside_the_years_1_to_9999_reject_their_row() -> None:
    seconds = pa.array([0, 10**15, -(10**15)], pa.timestamp("s"))
    table = pa.table({"model": ["gpt-4o"] * 3, "timestamp": seconds, "input_tokens": [1, 1, 1]})
    status = price_table(table).column("status").to_pylist()
    assert status[0] is None
    assert "outside the years 1 to 9999" in status[1] and "outside the years 1 to 9999" in status[2]
    text = pa.table({"model": ["gpt-4o"], "timestamp": ["0000-01-01T00:00:00Z"], "input_tokens": [1]})
    assert "outside the years 1 to 9999" in price_table(text).column("status")[0].as_py()


@pytest.mark.parametrize(
    ("at", "error", "message"),
    [
        (float("nan"), tokenprice.InvalidArgumentError, "at: NaN is not a time"),
        (float("inf"), tokenprice.InvalidArgumentError, "at: inf is not a time"),
        (-1e20, tokenprice.InvalidArgumentError, "outside the years 1 to 9999"),
        (10**30, tokenprice.InvalidArgumentError, "outside the years 1 to 9999"),
        (True, tokenprice.InvalidTypeError, "True is not a time"),
        ([2025], tokenprice.InvalidTypeError, "got list"),
    ],
)
def test_price_rejects_times_that_are_not_times(at: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        price(Usage(input_tokens=1), "gpt-4o", at=at)


def test_valid_times_still_work() -> None:
    expected = cost("gpt-4o", input_tokens=1000)
    for at in (AT, dt.date(2025, 10, 1), dt.datetime(2025, 10, 1), 1759276800, 1759276800.0):
        assert price(Usage(input_tokens=1000), "gpt-4o", at=at).total == expected


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (2**70, tokenprice.InvalidUsageError, "input_tokens: 1180591620717411303424 is more than 18446744073709551615"),
        (10**40, tokenprice.InvalidUsageError, "is more than 18446744073709551615"),
        (-(10**40), tokenprice.InvalidUsageError, "is negative"),
        (-1, tokenprice.InvalidUsageError, "-1 is negative"),
        (1.5, tokenprice.InvalidUsageError, "1.5 is not a whole number"),
        (float("nan"), tokenprice.InvalidUsageError, "NaN is not a number"),
        ("5", tokenprice.InvalidTypeError, "input_tokens: expected a whole number, got str '5'"),
        (None, tokenprice.InvalidTypeError, "got NoneType None"),
        (True, tokenprice.InvalidTypeError, "got bool True"),
    ],
)
def test_usage_says_what_is_wrong_with_a_count(value: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(")):
        Usage(input_tokens=value)
    with pytest.raises(error, match=message.replace("(", r"\(")):
        price({"input_tokens": value}, "gpt-4o", at=AT)


def test_usage_sums_past_the_largest_count_are_errors() -> None:
    big = Usage(input_tokens=2**64 - 1)
    with pytest.raises(tokenprice.InvalidUsageError, match="is more than 18446744073709551615"):
        big + Usage(input_tokens=1)


# ---------------------------------------------------------------- exact amounts at any size


@pytest.mark.parametrize("tokens", [10**16, 10**17, 10**19])
def test_price_of_huge_counts_is_exact_never_saturated(tokens: int) -> None:
    c = price(Usage(input_tokens=tokens, output_tokens=tokens), "gpt-4o", at="2025-01-01")
    # $2.50 and $10 per million tokens.
    assert c.total == Decimal(tokens) * Decimal("12.5") / 10**6
    assert c.total != Decimal("79228162514264337593543950335")
    counts = pa.array([tokens], pa.uint64())
    table = pa.table({"model": ["gpt-4o"], "input_tokens": counts, "output_tokens": counts})
    assert price_table(table, default_at="2025-01-01").column("total_cost").to_pylist() == [c.total]
    assert sum(item["amount"] for item in c.items) == c.total


# ---------------------------------------------------------------- pickling


OVERRIDES = {"discounts": {"openai": "0.8"}}


def books() -> list[PriceBook]:
    default = PriceBook.default()
    return [default, default.with_overrides(OVERRIDES), PriceBook.from_path("prices/openai.toml")]


def test_books_usages_and_costs_survive_pickling_equal() -> None:
    for book in books():
        again = pickle.loads(pickle.dumps(book))
        assert again == book and len(again) == len(book)
        c = price(Usage(input_tokens=1000, cache_read_tokens=200, output_tokens=10), "gpt-4o", at=AT, book=book)
        c2 = pickle.loads(pickle.dumps(c))
        assert c2 == c and c2.total == c.total and c2.explain() == c.explain()
    assert books()[1] != PriceBook.default()
    u = Usage(input_tokens=5, output_tokens=2, requests=3)
    assert pickle.loads(pickle.dumps(u)) == u


def _total_in_worker(args: tuple[PriceBook, Usage]) -> Decimal:
    book, usage = args
    return price(usage, "gpt-4o", at=AT, book=book).total


def test_books_and_usages_reach_a_spawned_worker() -> None:
    usage = Usage(input_tokens=1000, output_tokens=10)
    book = PriceBook.default().with_overrides(OVERRIDES)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        got = pool.map(_total_in_worker, [(book, usage)])
        cost_back = pool.apply(pickle.loads, (pickle.dumps(price(usage, "gpt-4o", at=AT, book=book)),))
    assert got == [price(usage, "gpt-4o", at=AT, book=book).total]
    assert cost_back == price(usage, "gpt-4o", at=AT, book=book)


@pytest.mark.parametrize(
    "at",
    [
        dt.datetime(2026, 3, 1, 12, 30, 5, 123456),  # naive: UTC
        dt.datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=dt.timezone(dt.timedelta(hours=-7, minutes=-30))),
        dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=dt.timezone.utc),  # before the epoch
        dt.datetime(1, 1, 1, 0, 0, 0, 1),
        dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.timezone(dt.timedelta(hours=5))),
    ],
)
def test_a_datetime_is_read_to_the_microsecond(at: dt.datetime) -> None:
    """A datetime given as an instant (here a log's ``default_at``) comes back as the same UTC instant, to the
    microsecond: before the epoch, at the calendar's ends, with odd offsets, and naive (read as UTC)."""
    line = json.dumps({"model": "gpt-4o", "usage": {"prompt_tokens": 10, "completion_tokens": 2}})
    run = tokenprice.price_logs(pa.array([line]), default_at=at)
    want = at if at.tzinfo is not None else at.replace(tzinfo=dt.timezone.utc)
    assert run.table.column("timestamp")[0].as_py() == want

"""Pricing from Python: Usage, price(), Cost, PriceBook (resolution, dated entries, overrides) and price_table
on pyarrow, polars and pandas tables. Golden figures are worked out by hand in the comments."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import tokenprice
from tokenprice import PriceBook, Usage, price, price_table

BOOK_DICTS = [
    {
        "schema": 1,
        "id": "openai",
        "name": "OpenAI",
        "owns": [{"starts_with": "gpt-"}, {"regex": "^o[1-9]"}],
        "id_prefixes": ["openai/"],
        "service_tiers": {
            "aliases": {"default": "standard"},
            "batch": {"multiplier": "0.5"},
            "flex": {"same_as": "batch"},
            "priority": {},
        },
        "models": [
            {
                "id": "gpt-4o",
                "match": ["gpt-4o", {"starts_with": "gpt-4o-2024-"}],
                "prices": [
                    {"input_per_mtok": "5", "output_per_mtok": "15"},
                    {
                        "from": "2024-10-01",
                        "source": "https://openai.com/api/pricing/",
                        "input_per_mtok": "2.5",
                        "output_per_mtok": "10",
                        "cache_read_per_mtok": "1.25",
                        "priority": {"input_per_mtok": "4.25", "output_per_mtok": "17"},
                    },
                ],
            },
            {
                "id": "o3",
                "prices": [
                    {"input_per_mtok": "10", "output_per_mtok": "40"},
                    {"from": "2025-06-10", "input_per_mtok": "2", "output_per_mtok": "8"},
                ],
            },
        ],
    },
    {
        "schema": 1,
        "id": "anthropic",
        "owns": [{"contains": "claude"}],
        "service_tiers": {"batch": {"multiplier": "0.5"}},
        "models": [
            {
                "id": "claude-sonnet-4-5",
                "prices": [
                    {
                        "input_per_mtok": {"base": "3", "above": [{"tokens": 200000, "price": "6"}]},
                        "output_per_mtok": {"base": "15", "above": [{"tokens": 200000, "price": "22.5"}]},
                        "cache_read_per_mtok": {"base": "0.3", "above": [{"tokens": 200000, "price": "0.6"}]},
                        "cache_write_per_mtok": "3.75",
                        "cache_write_1h_per_mtok": "6",
                        "web_searches_per_k": "10",
                    }
                ],
            }
        ],
    },
    {
        "schema": 1,
        "id": "groq",
        "models": [{"id": "llama-3.3-70b", "prices": [{"input_per_mtok": "0.59", "output_per_mtok": "0.79"}]}],
    },
    {
        "schema": 1,
        "id": "together",
        "models": [{"id": "llama-3.3-70b", "prices": [{"input_per_mtok": "0.88", "output_per_mtok": "0.88"}]}],
    },
]


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook.from_dicts(BOOK_DICTS)


# ---------------------------------------------------------------- Usage


def test_usage_fields_defaults_and_getters() -> None:
    fields = Usage.fields
    assert fields[:5] == [
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "cache_write_1h_tokens",
    ]
    assert fields == tokenprice._core.usage_fields()
    u = Usage(input_tokens=100, output_tokens=7)
    assert u.requests == 1 and u.web_searches == 0

    # Every getter reads its own field (a distinct value per field; parts smaller than their wholes).
    def value(i: int, f: str) -> int:
        return 1_000_000 if f in ("input_tokens", "output_tokens") else 10_000 * (len(fields) - i)

    big = Usage(**{f: value(i, f) for i, f in enumerate(fields)})
    for i, f in enumerate(fields):
        assert getattr(big, f) == value(i, f), f
    assert big.to_dict() == {f: value(i, f) for i, f in enumerate(fields)}
    assert Usage(input_tokens=2.0).input_tokens == 2  # integral floats are whole counts
    assert Usage(input_tokens=1) + Usage(input_tokens=2, output_tokens=3) == Usage(
        input_tokens=3, output_tokens=3, requests=2
    )
    assert repr(Usage(input_tokens=5)) == "Usage(input_tokens=5)"


@pytest.mark.parametrize(
    "fields,message",
    [
        ({"input_tokens": -1}, r"input_tokens: -1 is negative"),
        ({"input_tokens": 1.5}, r"input_tokens: 1.5 is not a whole"),
        ({"input_tokens": 10, "cache_read_tokens": 11}, r"cache_read_tokens = 11 is more than input_tokens = 10"),
        ({"output_tokens": 1, "reasoning_tokens": 2}, r"reasoning_tokens = 2 is more than output_tokens = 1"),
        ({"inputs": 1}, r"inputs: not a usage field"),
    ],
)
def test_usage_rejects_impossible_counts(fields: dict[str, object], message: str) -> None:
    with pytest.raises(tokenprice.InvalidUsageError, match=message):
        Usage(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["10", True, None])
def test_usage_rejects_counts_of_the_wrong_type(value: object) -> None:
    with pytest.raises(tokenprice.InvalidTypeError, match="input_tokens: expected a whole number, got"):
        Usage(input_tokens=value)  # type: ignore[arg-type]


# ---------------------------------------------------------------- price()


def test_price_is_exact_itemized_and_explained(book: PriceBook) -> None:
    usage = Usage(input_tokens=2422, cache_read_tokens=2304, output_tokens=120)
    cost = price(usage, "gpt-4o", at="2025-03-01", book=book)
    # 118 × 2.5 + 2304 × 1.25 + 120 × 10 = 4375 per million
    assert cost.total == Decimal("0.004375") and isinstance(cost.total, Decimal)
    assert sum((i["amount"] for i in cost.items), Decimal(0)) == cost.total
    assert cost.input_cost + cost.output_cost == cost.total
    assert [(i["field"], i["count"]) for i in cost.items] == [
        ("input_tokens", 118),
        ("output_tokens", 120),
        ("cache_read_tokens", 2304),
    ]
    assert cost.model == "gpt-4o" and cost.provider == "openai" and cost.service_tier == "standard"
    assert cost.effective_from == dt.date(2024, 10, 1) and cost.source == "https://openai.com/api/pricing/"
    text = cost.explain()
    assert (
        "118 input tokens (of 2,422, less cache-read tokens priced separately) × $2.5 per million tokens = $0.000295"
        in text
    )
    assert text.endswith("Total: $0.004375")


def test_time_arguments(book: PriceBook) -> None:
    u = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    before, after = Decimal(50), Decimal(10)
    assert price(u, "o3", at=dt.datetime(2025, 6, 9, 23, 59), book=book).total == before  # naive = UTC
    assert (
        price(u, "o3", at=dt.datetime(2025, 6, 10, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))), book=book).total
        == before
    )
    assert price(u, "o3", at=dt.date(2025, 6, 10), book=book).total == after
    assert price(u, "o3", at="2025-06-10T00:00:00Z", book=book).total == after
    assert price(u, "o3", at=1749513600, book=book).total == after  # epoch seconds of 2025-06-10
    assert price(u, "o3", book=book).total == after  # now
    with pytest.raises(tokenprice.InvalidArgumentError, match="ISO 8601"):
        price(u, "o3", at="last tuesday", book=book)


def test_tiers_long_context_and_fees(book: PriceBook) -> None:
    u = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    assert price(u, "gpt-4o", at="2025-01-01", service_tier="batch", book=book).total == Decimal("6.25")
    assert price(u, "gpt-4o", at="2025-01-01", service_tier="flex", book=book).total == Decimal("6.25")
    assert price(u, "gpt-4o", at="2025-01-01", service_tier="priority", book=book).total == Decimal("21.25")
    with pytest.raises(tokenprice.NoPriceError, match='no "priority" price for o3'):
        price(u, "o3", at="2025-07-01", service_tier="priority", book=book)
    big = Usage(input_tokens=300_000, cache_read_tokens=100_000, output_tokens=10_000, web_searches=2)
    # 200k × 6 + 100k × 0.6 + 10k × 22.5 per million + 2 × $10/1000 = 1.2 + 0.06 + 0.225 + 0.02
    cost = price(big, "claude-sonnet-4-5", at="2025-10-01", book=book)
    assert cost.total == Decimal("1.505")
    assert "prompt over 200,000 tokens" in cost.explain()
    # Batch halves token prices, not the search fee: 1.485 / 2 + 0.02
    assert price(big, "claude-sonnet-4-5", at="2025-10-01", service_tier="batch", book=book).total == Decimal("0.7625")
    assert price(Usage(), "gpt-4o", at="2025-01-01", book=book).total == 0


def test_resolution(book: PriceBook) -> None:
    assert book.resolve("openai/gpt-4o-2024-08-06")["model"] == "gpt-4o"
    assert book.resolve("anthropic/claude-sonnet-4-5")["provider"] == "anthropic"
    assert book.resolve("llama-3.3-70b", provider="groq")["provider"] == "groq"
    with pytest.raises(tokenprice.AmbiguousModelError, match="groq, together"):
        book.resolve("llama-3.3-70b")
    with pytest.raises(tokenprice.UnknownModelError, match="claude-sonnet-4-5") as info:
        book.resolve("claude-sonet-4-5")
    assert isinstance(info.value, KeyError)
    with pytest.raises(tokenprice.UnknownProviderError, match="known providers: openai, anthropic, groq, together"):
        book.resolve("gpt-4o", provider="openia")


def test_price_at_and_models(book: PriceBook) -> None:
    entry = book.price_at("o3", at="2025-01-01")
    assert entry["effective_from"] is None and entry["effective_until"] == dt.date(2025, 6, 10)
    assert entry["prices"] == {"input_per_mtok": Decimal("10"), "output_per_mtok": Decimal("40")}
    claude = book.price_at("claude-sonnet-4-5", at="2025-10-01")["prices"]["input_per_mtok"]
    assert claude == {"base": Decimal("3"), "above": [{"tokens": 200000, "price": Decimal("6")}]}
    assert [m["model"] for m in book.models("openai")] == ["gpt-4o", "o3"]
    assert book.models("openai")[1]["price_changes"] == ["2025-06-10"]
    assert book.providers == ["openai", "anthropic", "groq", "together"] and len(book) == 5


def test_overrides_never_change_the_shared_book(book: PriceBook, tmp_path: Path) -> None:
    u = Usage(input_tokens=1_000_000)
    custom = book.with_overrides(
        {
            "discounts": {"openai": "0.8", "anthropic/claude-sonnet-4-5": "0.5"},
            "providers": [
                {
                    "id": "openai",
                    "models": [
                        {"id": "ft:gpt-4o:acme", "prices": [{"input_per_mtok": "3.75", "output_per_mtok": "15"}]},
                        {"id": "o3", "prices": [{"input_per_mtok": "0", "output_per_mtok": "0"}]},
                    ],
                },
                {"id": "selfhosted", "models": [{"id": "my-llama", "prices": [{"input_per_mtok": "0.1"}]}]},
            ],
        }
    )
    assert price(u, "gpt-4o", at="2025-01-01", book=custom).total == Decimal("2")  # 2.5 × 0.8
    assert price(u, "ft:gpt-4o:acme", at="2025-01-01", book=custom).total == Decimal("3")  # 3.75 × 0.8
    assert price(u, "o3", at="2025-07-01", book=custom).total == 0  # a $0 price is respected
    small = Usage(input_tokens=100_000)  # under the long-context threshold: $3/MTok × 0.5
    assert price(small, "claude-sonnet-4-5", at="2025-10-01", book=custom).total == Decimal("0.15")
    assert price(u, "my-llama", provider="selfhosted", at="2025-01-01", book=custom).total == Decimal("0.1")
    # The book they came from is untouched.
    assert price(u, "gpt-4o", at="2025-01-01", book=book).total == Decimal("2.5")
    assert price(u, "o3", at="2025-07-01", book=book).total == Decimal("2")
    # Overrides from a TOML file too.
    f = tmp_path / "overrides.toml"
    f.write_text('[discounts]\nopenai = "0.5"\n')
    assert price(u, "gpt-4o", at="2025-01-01", book=book.with_overrides(f)).total == Decimal("1.25")


def test_books_from_files_and_bad_definitions(tmp_path: Path) -> None:
    (tmp_path / "acme.toml").write_text(
        'schema = 1\nid = "acme"\n\n[[models]]\nid = "acme-1"\n\n[[models.prices]]\ninput_per_mtok = "1"\n'
    )
    book = PriceBook.from_path(tmp_path)
    assert price(Usage(input_tokens=10**6), "acme-1", at="2025-01-01", book=book).total == 1
    bad = json.loads(json.dumps(BOOK_DICTS))
    bad[0]["models"][0]["prices"][1]["cache_read_per_mtok"] = "-0.5"
    with pytest.raises(
        tokenprice.PriceBookError, match=r"models\[0\] \(gpt-4o\)\.prices\[1\]\.cache_read_per_mtok: -0.5 is negative"
    ):
        PriceBook.from_dicts(bad)
    bad = json.loads(json.dumps(BOOK_DICTS))
    bad[0]["models"][0]["prices"][0]["input_per_mtok"] = 2.5
    with pytest.raises(tokenprice.PriceBookError, match="not a float"):
        PriceBook.from_dicts(bad)
    (tmp_path / "broken.toml").write_text("schema = 1\nid = \n")
    with pytest.raises(tokenprice.PriceBookError, match="broken.toml: not valid TOML"):
        PriceBook.from_path(tmp_path)


def test_default_book_is_loaded_and_shared() -> None:
    a, b = PriceBook.default(), PriceBook.default()
    assert len(a) == len(b) > 0
    assert "openai" in a.providers and "anthropic" in a.providers


# ---------------------------------------------------------------- price_table

ROWS = {
    "model": ["gpt-4o", "o3", "nope-model", "claude-sonnet-4-5", "gpt-4o", "gpt-4o"],
    "timestamp": pd.to_datetime(
        ["2025-01-01", "2025-07-01", "2025-07-01", "2025-10-01", "2024-05-01", "2025-01-01"], utc=True
    ),
    "input_tokens": [1000, 2000, 10, 300_000, 100, 50],
    "cache_read_tokens": [200, 0, 0, 100_000, 0, 60],
    "output_tokens": [100, 50, 1, 10, 10, 5],
    "service_tier": [None, "batch", None, None, None, None],
}


def expected_totals(book: PriceBook) -> list[Decimal | None]:
    out: list[Decimal | None] = []
    for i, model in enumerate(ROWS["model"]):
        fields = {f: ROWS[f][i] for f in ("input_tokens", "cache_read_tokens", "output_tokens")}
        try:
            u = Usage(**fields)  # type: ignore[arg-type]
            out.append(
                price(
                    u, model, at=ROWS["timestamp"][i].to_pydatetime(), service_tier=ROWS["service_tier"][i], book=book
                ).total
            )
        except tokenprice.TokenPriceError:
            out.append(None)
    return out


def test_price_table_pyarrow(book: PriceBook) -> None:
    table = pa.table(pd.DataFrame(ROWS))
    out = price_table(table, book=book, itemized=True)
    assert isinstance(out, pa.Table) and out.num_rows == table.num_rows
    assert out.column_names[: len(table.column_names)] == table.column_names
    assert out.schema.field("total_cost").type == pa.decimal128(38, 18)
    assert out.column("total_cost").to_pylist() == expected_totals(book)
    status = out.column("status").to_pylist()
    assert status[2].startswith('no price is known for model "nope-model"')
    assert "cache_read_tokens = 60 is more than input_tokens = 50" in status[5]
    priced = sum(s is None for s in status)
    assert priced + sum(s is not None for s in status) == table.num_rows == 6 and priced == 4
    assert out.column("priced_model").to_pylist()[0] == "gpt-4o"
    assert out.column("price_from").to_pylist()[0] == dt.date(2024, 10, 1)
    for row in range(6):
        if status[row] is None:
            items = [
                out.column(c)[row].as_py() for c in ("input_cost", "output_cost", "cache_read_cost", "requests_cost")
            ]
            assert sum(items) == out.column("total_cost")[row].as_py()


def test_price_table_polars_and_pandas(book: PriceBook) -> None:
    expected = expected_totals(book)
    pl_out = price_table(pl.DataFrame(ROWS), book=book)
    assert isinstance(pl_out, pl.DataFrame)
    assert pl_out["total_cost"].to_list() == expected
    frame = pd.DataFrame(ROWS, index=[f"r{i}" for i in range(6)])
    pd_out = price_table(frame, book=book)
    assert list(pd_out.index) == list(frame.index)
    assert [None if pd.isna(v) else v for v in pd_out["total_cost"]] == expected
    floats = price_table(frame, book=book, as_float=True, keep_columns=False)
    assert list(floats.columns)[0] == "total_cost"
    assert abs(floats["total_cost"].iloc[0] - float(expected[0] or 0)) < 1e-15


def test_price_table_options(book: PriceBook) -> None:
    frame = pd.DataFrame(
        {
            "m": ["claude-sonnet-4-5", "claude-sonnet-4-5"],
            "uncached_input": [1000, 1000],
            "cache_read": [500, 0],
            "out": [10, 10],
            "hit": [False, True],
        }
    )
    # Anthropic-style counts: input excludes cache reads; the second row was a gateway cache hit.
    out = price_table(
        frame,
        book=book,
        model="m",
        cache_hit="hit",
        columns={"input_tokens": "uncached_input", "cache_read_tokens": "cache_read", "output_tokens": "out"},
        input_excludes_cache=True,
        default_at="2025-10-01",
    )
    first = price(
        Usage(input_tokens=1500, cache_read_tokens=500, output_tokens=10),
        "claude-sonnet-4-5",
        at="2025-10-01",
        book=book,
    )
    assert out["total_cost"].iloc[0] == first.total
    assert out["total_cost"].iloc[1] == 0
    with pytest.raises(tokenprice.InvalidArgumentError, match='no column "timestamp"') as missing:
        price_table(frame.rename(columns={"m": "model"}), book=book)
    assert "default_at=" in str(missing.value)
    with pytest.raises(tokenprice.InvalidArgumentError, match=r'no column "missing" \(for provider\)'):
        price_table(pd.DataFrame(ROWS), book=book, provider="missing")
    with pytest.raises(tokenprice.InvalidArgumentError, match="not a usage field"):
        price_table(pd.DataFrame(ROWS), book=book, columns={"tokens_in": "input_tokens"})
    bad = pd.DataFrame({"model": ["gpt-4o"], "timestamp": ["2025-13-45"], "input_tokens": [1]})
    assert "timestamp" in price_table(bad, book=book)["status"].iloc[0]


# ---------------------------------------------------------------- CLI


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tokenprice", *args], capture_output=True, text=True, timeout=120)


def test_cli_quote_and_models() -> None:
    result = run(
        "quote", "gpt-4o", "--input", "2422", "--cache-read", "2304", "--output", "120", "--at", "2025-03-01", "--json"
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    expected = price(Usage(input_tokens=2422, cache_read_tokens=2304, output_tokens=120), "gpt-4o", at="2025-03-01")
    assert Decimal(out["total"]) == expected.total and out["provider"] == "openai"
    text = run("quote", "gpt-4o", "--input", "1000", "--at", "2025-03-01").stdout
    assert "Total: $" in text
    bad = run("quote", "gpt-9-ultra", "--input", "1")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "no price is known" in bad.stderr
    listing = run("models", "--provider", "openai", "--search", "gpt-4o", "--json")
    assert listing.returncode == 0, listing.stderr
    models = json.loads(listing.stdout)
    assert any(m["model"] == "gpt-4o" for m in models)


def test_the_timestamp_error_names_the_timestamp_argument_first() -> None:
    """A table whose time column has another name (`ts`): the error says timestamp="ts", and default_at= only as the
    way to price history at one date."""
    table = pa.table({"model": ["gpt-4o"], "ts": ["2025-01-01T00:00:00Z"], "input_tokens": [10]})
    with pytest.raises(tokenprice.InvalidArgumentError) as caught:
        price_table(table)
    message = str(caught.value)
    assert "the table has: model, ts, input_tokens" in message
    assert message.index('timestamp="ts"') < message.index("default_at=")
    assert "to price every row at one date, default_at=" in message
    # The hint works: the rows are priced at their own times.
    assert price_table(table, timestamp="ts").column("status").to_pylist() == [None]
    with pytest.raises(tokenprice.InvalidArgumentError, match=r"^timestamp=None: .*timestamp=, or, to price"):
        price_table(table, timestamp=None)

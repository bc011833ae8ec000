"""Usage extraction: one fixture file per source (tests/fixtures/usage/*.json), every field of the normalized
record asserted; the same records given as dicts, JSON text and bytes; errors that name what was wrong; and
pricing a record equals pricing its hand-normalized usage."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

import tokenprice
from tokenprice import _core
from tokenprice.cli import build_parser

from fixture_cases import DEFAULTS, USAGE, cases_of, expected, files, named_cases


def cases() -> list[Any]:
    return [pytest.param(case, id=name) for name, case in named_cases(USAGE)]


def hints(case: dict[str, Any]) -> dict[str, Any]:
    return dict(case.get("hints", {}))


def check(record: tokenprice.UsageRecord, expect: dict[str, Any]) -> None:
    want = expected(expect)
    got = record.to_dict()
    assert set(got) == set(DEFAULTS) | {"format", "usage", "extra"}
    assert got["format"] == want["format"]
    if want["reported_cost"] is not None:
        assert isinstance(got["reported_cost"], Decimal)
    for field in DEFAULTS:
        assert got[field] == want[field], f"{field}: {got[field]!r} != {want[field]!r}"
    assert got["usage"] == want["usage"]
    assert record.usage == tokenprice.Usage(**want["usage"])


@pytest.mark.parametrize("case", cases())
def test_fixture_record(case: dict[str, Any]) -> None:
    forms: list[Any] = [case["input"]] if isinstance(case["input"], str) else [case["input"], json.dumps(case["input"])]
    forms.append(forms[-1].encode())
    for form in forms:
        if "expect_error" in case:
            with pytest.raises(tokenprice.UsageFormatError, match=case["expect_error"]):
                tokenprice.extract_usage(form, **hints(case))
        else:
            check(tokenprice.extract_usage(form, **hints(case)), case["expect"])


def test_every_source_has_a_fixture_file() -> None:
    names = {p.stem for p in files(USAGE)}
    assert {"openai_chat", "openai_responses", "anthropic", "gemini", "bedrock", "cloudflare", "litellm"} <= names
    assert {"langfuse", "helicone", "otel"} <= names
    seen_formats = set()
    for _, case in named_cases(USAGE):
        if "expect" in case:
            seen_formats.add(case["expect"]["format"])
    assert seen_formats == {name for name, _ in tokenprice.usage_formats()} - {"generic"}


def test_unknown_shapes_name_the_keys_and_the_formats_tried() -> None:
    with pytest.raises(tokenprice.UsageFormatError) as e:
        tokenprice.extract_usage({"foo": 1, "bar": {"baz": 2}})
    message = str(e.value)
    assert "[foo, bar]" in message and "openai_chat" in message and "cloudflare_logs" in message
    with pytest.raises(tokenprice.UsageFormatError, match="not valid JSON"):
        tokenprice.extract_usage('{"usage": ')
    with pytest.raises(tokenprice.UsageFormatError, match="not UTF-8"):
        tokenprice.extract_usage(b'{"usage": "\xff"}')
    with pytest.raises(tokenprice.UsageFormatError, match=r"usage\.prompt_tokens: -3 is negative"):
        tokenprice.extract_usage({"model": "gpt-4o", "usage": {"prompt_tokens": -3, "completion_tokens": 1}})
    with pytest.raises(tokenprice.UsageFormatError, match=r"usage\.completion_tokens: 1\.5 is not a whole number"):
        tokenprice.extract_usage({"model": "gpt-4o", "usage": {"prompt_tokens": 3, "completion_tokens": 1.5}})
    with pytest.raises(tokenprice.UsageFormatError, match="cache_read_tokens = 9 is more than input_tokens = 3"):
        tokenprice.extract_usage({"usage": {"prompt_tokens": 3, "prompt_tokens_details": {"cached_tokens": 9}}})
    with pytest.raises(tokenprice.UsageFormatError, match="unknown format"):
        tokenprice.extract_usage({"usage": {}}, format="nope")
    with pytest.raises(tokenprice.UsageFormatError, match="include_usage"):
        tokenprice.extract_usage([{"object": "chat.completion.chunk", "choices": []}])
    with pytest.raises(tokenprice.UsageFormatError, match="expected a JSON object or a list of stream chunks"):
        tokenprice.extract_usage(3.5)
    with pytest.raises(tokenprice.InvalidTypeError, match="must be a dict"):
        tokenprice.extract_usage(object())


def test_reported_costs_are_exact_decimals_from_the_text() -> None:
    # The digits of the JSON text, not of a float: 0.1 + 0.2 as a float would be 0.30000000000000004.
    record = tokenprice.extract_usage('{"id":"a","tokens_in":1,"tokens_out":1,"cost":0.3}')
    assert record.reported_cost == Decimal("0.3")
    record = tokenprice.extract_usage('{"id":"a","tokens_in":1,"tokens_out":1,"cost":6e-05}')
    assert record.reported_cost == Decimal("0.00006")
    # Kept to 18 places (the money scale), rounded half to even once.
    record = tokenprice.extract_usage('{"id":"a","tokens_in":1,"tokens_out":1,"cost":0.1000000000000000055}')
    assert record.reported_cost == Decimal("0.100000000000000006")


def test_generic_mapping() -> None:
    row = {
        "ts": "2025-03-01T10:00:00Z",
        "llm": {"name": "claude-sonnet-4-5", "vendor": "anthropic"},
        "counts": {"in": 10, "cache_r": 1000, "out": 5},
        "labels": {"tenant": "acme", "feature": "qa"},
        "bill": "0.0042",
    }
    mapping = {
        "model": "llm.name",
        "provider": "llm.vendor",
        "timestamp": "ts",
        "input_tokens": "counts.in",
        "cache_read_tokens": "counts.cache_r",
        "output_tokens": "counts.out",
        "reported_cost": "bill",
        "metadata": {"labels": "labels"},
        "input_excludes_cache": True,
    }
    r = tokenprice.extract_usage(row, mapping=mapping)
    assert r.format == "generic"
    assert (r.model, r.provider, r.reported_cost) == ("claude-sonnet-4-5", "anthropic", Decimal("0.0042"))
    assert r.usage == tokenprice.Usage(input_tokens=1010, cache_read_tokens=1000, output_tokens=5)
    assert r.metadata == {"tenant": "acme", "feature": "qa"}
    assert r.timestamp == dt.datetime(2025, 3, 1, 10, tzinfo=dt.timezone.utc)
    with pytest.raises(tokenprice.InvalidArgumentError, match='mapping key "inputs" is not known'):
        tokenprice.extract_usage(row, mapping={"inputs": "x"})


def test_pricing_a_record_prices_its_served_model_tier_and_parts() -> None:
    book = tokenprice.PriceBook.default()
    # Served model, read from the body: a dated snapshot of gpt-4o.
    r = tokenprice.extract_usage(cases_of(USAGE / "openai_chat.json")[0]["input"])
    assert tokenprice.price(r).total == tokenprice.price(r.usage, model="gpt-4o-2024-08-06", at=r.timestamp).total
    # Batch tier from an Anthropic batch result.
    batch = cases_of(USAGE / "anthropic.json")[6]["input"]
    r = tokenprice.extract_usage(batch, at="2025-10-01")
    cost = tokenprice.price(r)
    assert cost.service_tier == "batch"
    assert (
        cost.total == tokenprice.price(r.usage, model="claude-sonnet-4-5", at="2025-10-01", service_tier="batch").total
    )
    # Parts on another model: each priced on its own, the total is their sum.
    advisor = cases_of(USAGE / "anthropic.json")[5]["input"]
    r = tokenprice.extract_usage(advisor, at="2025-10-01")
    cost = tokenprice.price(r, book=book)
    main = tokenprice.price(r.usage, model="claude-sonnet-4-5", at="2025-10-01").total
    other = tokenprice.price(r.parts[1][1], model="claude-opus-4-1", at="2025-10-01").total
    assert cost.total == main + other
    assert "Part 2" in cost.explain() and "claude-opus-4-1" in cost.explain()
    assert sum(i["amount"] for i in cost.items) == cost.total


def test_gateway_cache_hits_cost_nothing_and_say_why() -> None:
    case = cases_of(USAGE / "cloudflare.json")[1]["input"]
    r = tokenprice.extract_usage(case)
    cost = tokenprice.price(r)
    assert r.cache_hit and cost.total == 0
    assert "cache" in cost.explain().lower()
    # The same usage, not a cache hit, costs something.
    assert tokenprice.price(r.usage, model=r.model, at=r.timestamp).total > 0


def test_a_record_without_a_model_needs_one() -> None:
    r = tokenprice.extract_usage({"usage": {"inputTokens": 5, "outputTokens": 1}})
    with pytest.raises(tokenprice.InvalidArgumentError, match="names no model"):
        tokenprice.price(r)
    assert tokenprice.price(r, model="amazon.nova-pro-v1:0", at="2025-06-01").total > 0


def test_extract_usages_reads_lists_and_arrow_columns_and_loses_nothing() -> None:
    import polars as pl
    import pyarrow as pa
    import pyarrow.compute as pc

    cases = [c for _, c in named_cases(USAGE)]
    inputs: list[Any] = [c["input"] for c in cases]
    inputs += [
        b"{not json",
        None,
        '{"foo": 1}',
        json.dumps(
            {
                "success": True,
                "result": [
                    {"id": "a", "tokens_in": 1, "tokens_out": 2, "metadata": '{"tenant": "x"}'},
                    {"id": "b", "tokens_in": 3, "tokens_out": 4, "cached": True},
                ],
            }
        ),
    ]
    table = tokenprice.extract_usages(inputs)
    assert isinstance(table, pa.Table)
    # One row per record: containers expand, every input is accounted for.
    assert sorted(set(table.column("source_index").to_pylist())) == list(range(len(inputs)))
    assert table.num_rows == len(inputs) + 1
    rejected = table.filter(pc.equal(table.column("status"), "rejected"))
    errors = rejected.column("error").to_pylist()
    n_expected_errors = sum(1 for c in cases if "expect_error" in c)
    assert rejected.num_rows == n_expected_errors + 3
    assert any("not valid JSON" in e for e in errors) and any("no record (null)" in e for e in errors)
    assert any("matches no known usage format" in e for e in errors)
    ok = table.filter(pc.not_equal(table.column("status"), "rejected"))
    assert ok.num_rows + rejected.num_rows == table.num_rows
    # Rows agree with extract_usage, field for field.
    by_source = {i: r for i, r in zip(table.column("source_index").to_pylist(), table.to_pylist(), strict=True)}
    for i, case in enumerate(cases):
        if "expect" not in case:
            continue
        row, record = by_source[i], tokenprice.extract_usage(case["input"])
        assert row["format"] == record.format and row["model"] == record.model and row["id"] == record.id
        assert row["input_tokens"] == record.usage.input_tokens and row["output_tokens"] == record.usage.output_tokens
        assert row["reported_cost"] == record.reported_cost
        assert row["timestamp"] == record.timestamp
        for key, value in record.metadata.items():
            column = key if key in table.column_names else f"metadata.{key}"
            assert row[column] == str(value).lower() if isinstance(value, bool) else row[column] == str(value)
    envelope = table.filter(pc.equal(table.column("source_index"), len(inputs) - 1))
    assert envelope.column("id").to_pylist() == ["a", "b"]
    assert envelope.column("cache_hit").to_pylist() == [False, True]
    # Arrow columns of JSON text: pyarrow, polars, pandas.
    lines = [json.dumps(c["input"]) for c in cases if "expect" in c and not isinstance(c["input"], str)]
    from_arrow = tokenprice.extract_usages(pa.array(lines))
    from_polars = tokenprice.extract_usages(pl.Series(lines))
    from_list = tokenprice.extract_usages(lines, num_threads=1)
    assert from_arrow.equals(from_list) and from_polars.equals(from_list)


def test_every_format_list_is_the_core_registry(capsys: pytest.CaptureFixture[str]) -> None:
    names = _core.formats()
    assert names and len(set(names)) == len(names)
    # usage_formats(): the registry in its detection order, then the generic mapping (read only with mapping=).
    assert [name for name, _ in tokenprice.usage_formats()] == [*names, "generic"]
    assert all(describe for _, describe in tokenprice.usage_formats())
    # The CLI's --format help lists the registry, in order.
    with pytest.raises(SystemExit):
        build_parser().parse_args(["price", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert ", ".join(names) in help_text
    # An unknown name is an argument error listing the same formats, in the same order.
    with pytest.raises(tokenprice.InvalidArgumentError) as e:
        tokenprice.price_logs([], format="cloudflare")
    assert f"formats: {', '.join(names)} " in str(e.value)


def test_the_cost_of_a_record_with_parts_or_a_cache_hit_pickles_equal() -> None:
    import pickle

    advisor = cases_of(USAGE / "anthropic.json")[5]["input"]
    hit = cases_of(USAGE / "cloudflare.json")[1]["input"]
    book = tokenprice.PriceBook.default().with_overrides({"discounts": {"anthropic": "0.5"}})
    for record, kwargs in ((advisor, {"at": "2025-10-01"}), (hit, {})):
        for b in (None, book):
            cost = tokenprice.price(tokenprice.extract_usage(record, **kwargs), book=b)
            back = pickle.loads(pickle.dumps(cost))
            assert back == cost and back.total == cost.total and back.items == cost.items
            assert back.explain() == cost.explain()
    parts = tokenprice.price(tokenprice.extract_usage(advisor, at="2025-10-01"), book=book)
    assert "Part 2" in pickle.loads(pickle.dumps(parts)).explain()
    cached = tokenprice.price(tokenprice.extract_usage(hit))
    assert cached.total == 0 and pickle.loads(pickle.dumps(cached)).total == 0

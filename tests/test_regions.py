"""Regional prices in every path: `price(..., region=)`, records (`extract_usage` + `price`), `price_table`'s
region column and `price_logs`, each saying which region was used (`Cost.region`, the `priced_region` column).

Anthropic bills US-only inference (`inference_geo: "us"`, echoed in the response's `usage`) at 1.1x standard
rates on Claude Opus 4.6, Sonnet 4.6 and later, and at the standard rate on Opus 4.5, Sonnet 4.5, Haiku 4.5 and
earlier (https://support.claude.com/en/articles/15422948-enable-us-only-inference-for-your-organization; the
response shape: https://platform.claude.com/docs/en/build-with-claude/data-residency). Bedrock prices its
`global.` cross-region inference profiles about 10% below the geographic and in-region ones
(https://docs.aws.amazon.com/bedrock/latest/userguide/global-cross-region-inference.html); the book holds them as
separate models (`global.…`, `regional.…`), chosen by the model id.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

import tokenprice

AT = "2026-03-01T12:00:00Z"
USAGE = {"input_tokens": 100_000, "output_tokens": 100_000}
# claude-opus-4-6 on 2026-03-01: 5 / 25 $/MTok → 0.5 + 2.5; US-only: × 1.1.
OPUS = Decimal("3")
OPUS_US = Decimal("3.3")


def anthropic_body(model: str, geo: str) -> dict[str, object]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "usage": {"input_tokens": 100_000, "output_tokens": 100_000, "inference_geo": geo},
    }


def test_price_with_a_region() -> None:
    us = tokenprice.price(USAGE, model="claude-opus-4-6", provider="anthropic", at=AT, region="us")
    assert (us.total, us.region) == (OPUS_US, "us")
    assert "region us: token prices × 1.1" in us.explain()
    home = tokenprice.price(USAGE, model="claude-opus-4-6", at=AT)
    assert (home.total, home.region) == (OPUS, None)
    assert tokenprice.price(USAGE, model="claude-opus-4-6", at=AT, region="global").total == OPUS
    # Before Opus 4.6 (2026-02-05), and on Sonnet 4.5, US-only inference costs the standard rate.
    sonnet = tokenprice.price(USAGE, model="claude-sonnet-4-5", at=AT, region="us")
    assert sonnet.total == Decimal("1.8")
    with pytest.raises(tokenprice.TokenPriceError, match='region "mars"'):
        tokenprice.price(USAGE, model="claude-opus-4-6", at=AT, region="mars")


def test_a_record_is_priced_in_the_region_it_ran_in() -> None:
    record = tokenprice.extract_usage(anthropic_body("claude-opus-4-6", "us"))
    assert record.region == "us"
    cost = tokenprice.price(record, at=AT)
    assert (cost.total, cost.region) == (OPUS_US, "us")
    # "global" is the default geography: no region, the standard rate.
    cost = tokenprice.price(tokenprice.extract_usage(anthropic_body("claude-opus-4-6", "global")), at=AT)
    assert (cost.total, cost.region) == (OPUS, None)
    # A region given wins over the record's.
    assert tokenprice.price(record, at=AT, region="global").total == OPUS


def test_price_table_takes_a_region_column_and_says_which_region_priced_each_row() -> None:
    table = pa.table(
        {
            "model": ["claude-opus-4-6", "claude-opus-4-6", "claude-sonnet-4-5", "claude-opus-4-6"],
            "region": ["us", None, "US", "mars"],
            "timestamp": [dt.datetime(2026, 3, 1, 12, tzinfo=dt.timezone.utc)] * 4,
            "input_tokens": [100_000] * 4,
            "output_tokens": [100_000] * 4,
        }
    )
    out = tokenprice.price_table(table, region="region")
    assert out.column("total_cost").to_pylist() == [OPUS_US, OPUS, Decimal("1.8"), None]
    assert out.column("priced_region").to_pylist() == ["us", None, "us", None]
    assert "mars" in out.column("status").to_pylist()[3]
    # Without a region column the column is there, all null.
    plain = tokenprice.price_table(table.drop_columns(["region"]))
    assert plain.column("priced_region").null_count == 4


def test_price_logs_prices_each_line_in_its_region() -> None:
    logs = tokenprice.price_logs(
        [anthropic_body("claude-opus-4-6", "us"), anthropic_body("claude-opus-4-6", "global")], default_at=AT
    )
    table = pa.table(logs.table)
    assert table.column("priced_region").to_pylist() == ["us", None]
    assert table.column("total_cost").to_pylist() == [OPUS_US, OPUS]
    assert logs.total_cost == OPUS_US + OPUS
    # Totals by region, with and without the rows kept, agree.
    by_region = pa.table(logs.summary("priced_region"))
    totals = pa.table(
        tokenprice.price_logs(
            [anthropic_body("claude-opus-4-6", "us"), anthropic_body("claude-opus-4-6", "global")],
            default_at=AT,
            by="priced_region",
            keep_rows=False,
        ).last_summary
    )
    for summary in (by_region, totals):
        regions, totals_by = summary.column("priced_region").to_pylist(), summary.column("total_cost").to_pylist()
        got = dict(zip(regions, totals_by, strict=True))
        assert got == {"us": OPUS_US, None: OPUS}
    # Repricing at the same prices keeps each line's region: nothing changes.
    same = pa.table(logs.reprice())
    assert same.column("repriced_cost").to_pylist() == [OPUS_US + OPUS]
    assert same.column("difference").to_pylist() == [0]


@pytest.mark.parametrize(
    ("model_id", "priced_model", "total"),
    [
        # Claude Sonnet 4.5 on Bedrock: global profile 3 / 15 $/MTok, in-region and geographic profiles 3.3 / 16.5.
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "global.anthropic.claude-sonnet-4-5-20250929-v1:0", "1.8"),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "regional.anthropic.claude-sonnet-4-5-20250929-v1:0", "1.98"),
        ("eu.anthropic.claude-sonnet-4-5-20250929-v1:0", "regional.anthropic.claude-sonnet-4-5-20250929-v1:0", "1.98"),
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", "regional.anthropic.claude-sonnet-4-5-20250929-v1:0", "1.98"),
    ],
)
def test_bedrock_in_region_and_global_profiles_in_every_path(model_id: str, priced_model: str, total: str) -> None:
    cost = tokenprice.price(USAGE, model=model_id, provider="bedrock", at=AT)
    assert (cost.provider, cost.model, cost.total) == ("aws", priced_model, Decimal(total))
    body = {"output": {}, "usage": {"inputTokens": 100_000, "outputTokens": 100_000, "totalTokens": 200_000}}
    record = tokenprice.extract_usage(body, provider="bedrock", model=model_id)
    assert tokenprice.price(record, at=AT).total == Decimal(total)
    table = pa.table(
        {"model": [model_id], "provider": ["bedrock"], "input_tokens": [100_000], "output_tokens": [100_000]}
    )
    out = tokenprice.price_table(table, timestamp=None, default_at=AT, provider="provider")
    assert out.column("priced_model").to_pylist() == [priced_model]
    assert out.column("total_cost").to_pylist() == [Decimal(total)]
    logs = tokenprice.price_logs([body], provider="bedrock", model=model_id, default_at=AT)
    assert pa.table(logs.table).column("priced_model").to_pylist() == [priced_model]
    assert logs.total_cost == Decimal(total)

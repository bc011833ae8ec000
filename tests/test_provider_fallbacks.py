"""Fallbacks between providers: a provider's price file may name providers whose prices apply to models it does
not list (Azure → OpenAI, ...; `fallbacks` in prices/SCHEMA.md). Every path resolves alike — `price`,
`price_table`, records (`extract_usage` + `price`) and `price_logs` — and says which provider's price was used.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

import tokenprice

AT = "2025-03-01T12:00:00Z"
USAGE = {"input_tokens": 1000, "output_tokens": 100}
# gpt-4o at OpenAI on 2025-03-01: 2.50 / 10 $/MTok.
EXPECTED = Decimal("0.0035")

OPENAI_BODY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1740830400,
    "model": "gpt-4o-2024-08-06",
    "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100},
}


def test_azure_declares_openai_among_its_fallbacks() -> None:
    # Read from the book itself: the provider file declares it (imported from genai-prices).
    info = tokenprice.PriceBook.default().resolve("gpt-4o", provider="azure")
    assert info["provider"] == "openai"


def test_price_falls_back_from_azure_to_openai() -> None:
    cost = tokenprice.price(USAGE, model="gpt-4o", provider="azure", at=AT)
    assert cost.provider == "openai" and cost.model == "gpt-4o"
    assert cost.total == EXPECTED


def test_a_model_azure_lists_is_priced_by_azure() -> None:
    cost = tokenprice.price(USAGE, model="o3-2025-04-16", provider="azure", at=AT)
    assert cost.provider == "azure"


def test_a_provider_without_fallbacks_does_not_borrow_prices() -> None:
    with pytest.raises(tokenprice.UnknownModelError):
        tokenprice.price(USAGE, model="gpt-4o", provider="groq", at=AT)


def test_price_table_falls_back_and_names_the_provider_used() -> None:
    table = pa.table(
        {
            "model": ["gpt-4o", "gpt-4o", "gpt-4o"],
            "provider": ["azure", "openai", "groq"],
            "timestamp": [dt.datetime(2025, 3, 1, 12, tzinfo=dt.timezone.utc)] * 3,
            "input_tokens": [1000] * 3,
            "output_tokens": [100] * 3,
        }
    )
    out = tokenprice.price_table(table)
    assert out.column("priced_provider").to_pylist()[:2] == ["openai", "openai"]
    assert out.column("total_cost").to_pylist()[:2] == [EXPECTED, EXPECTED]
    # groq declares no fallback: the row is not priced, and says why.
    assert out.column("total_cost").to_pylist()[2] is None
    assert out.column("status").to_pylist()[2] is not None


def test_a_record_from_azure_resolves_as_price_does() -> None:
    record = tokenprice.extract_usage(OPENAI_BODY)
    cost = tokenprice.price(record, provider="azure", at=AT)
    assert cost.provider == "openai" and cost.total == EXPECTED


def test_a_record_from_a_provider_without_fallbacks_is_not_priced_by_another() -> None:
    record = tokenprice.extract_usage(OPENAI_BODY)
    with pytest.raises(tokenprice.UnknownModelError):
        tokenprice.price(record, provider="groq", at=AT)


def test_price_logs_falls_back_and_names_the_provider_used() -> None:
    records = [{**OPENAI_BODY, "provider": "azure"}]
    logs = tokenprice.price_logs(records, provider="azure", default_at=AT)
    table = pa.table(logs.table)
    assert table.column("priced_provider").to_pylist() == ["openai"]
    assert logs.total_cost == EXPECTED

"""The 1,577 real response bodies of ../shared/data/genai-prices-usages.json (pydantic-ai's recordings, as
published by genai-prices): every one is read without error, and where genai-prices priced it, tokenprice's
input and output costs agree with genai-prices' — or the disagreement falls in one of the explained classes that
prices/DIFFERENCES.md describes ("Real response bodies"). Unexplained disagreements fail the test."""

from __future__ import annotations

import collections
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import genai_prices
import pytest
import tomllib

import tokenprice

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "genai-prices-usages.json"
# Models whose prices tokenprice corrects by hand (each listed in prices/DIFFERENCES.md with its sources).
CORRECTED = {
    (c["provider"], c["model"])
    for c in tomllib.loads((ROOT / "scripts" / "price_corrections.toml").read_text())["corrections"]
}

# genai-prices' API flavours that read the shape tokenprice detected (another flavour reading the same body reads
# different fields, and its price is for another API).
FLAVORS = {
    "openai_chat": {"chat", "default"},
    "openai_responses": {"responses"},
    "anthropic": {"anthropic", "default"},
    "gemini": {"default"},
    "bedrock": {"default"},
    "cohere": {"default"},
}
# The counts both libraries read, by genai-prices' name.
SHARED_COUNTS = ["input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"]


@pytest.fixture(scope="module")
def bodies() -> list[dict[str, Any]]:
    if not DATA.is_file():
        pytest.skip(f"the shared test data is not on this machine: {DATA} is missing (see ../shared/data/README.md)")
    data: list[dict[str, Any]] = json.loads(DATA.read_text())
    assert len(data) == 1577
    return data


def genai_price(usage: dict[str, int], model: str, provider: str) -> tuple[Decimal, Decimal] | None:
    """genai-prices' own price (the version pinned in pyproject) for its extracted usage, today."""
    fields = {
        k: v
        for k, v in usage.items()
        if k
        in (
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "input_audio_tokens",
            "output_audio_tokens",
            "cache_audio_read_tokens",
        )
    }
    try:
        calc = genai_prices.calc_price(
            genai_prices.Usage(**fields),
            model,
            provider_id=provider,
            genai_request_timestamp=dt.datetime.now(dt.timezone.utc),
        )
    except LookupError:
        return None
    return calc.input_price, calc.output_price


def explain(
    record: tokenprice.UsageRecord,
    cost: tokenprice.Cost,
    theirs: dict[str, Any],
    flavor_usage: dict[str, int],
    provider: str,
) -> str | None:
    """The class a disagreement falls in, or None when none explains it."""
    if (cost.provider, cost.model) in CORRECTED:
        return "correction: tokenprice's hand-corrected price (scripts/price_corrections.toml)"
    if record.parts:
        return "anthropic iterations: tokenprice bills every step in usage.iterations"
    ours = record.usage.to_dict()
    for field in SHARED_COUNTS:
        if ours[field] != flavor_usage.get(field, 0):
            return (
                f"reading: genai-prices' reader gives {field}={flavor_usage.get(field, 0)}, the body says {ours[field]}"
            )
    again = genai_price(flavor_usage, cost.model, provider) or genai_price(flavor_usage, record.model or "", provider)
    if again == (cost.input_cost, cost.output_cost):
        return "data version: the dataset's prices come from a later genai-prices than the one tokenprice imported"
    return None


def test_every_real_body_is_read_and_priced_like_genai_prices_or_explained(bodies: list[dict[str, Any]]) -> None:
    book = tokenprice.PriceBook.default()
    providers = set(book.providers)
    agree, classes, unexplained = 0, collections.Counter[str](), []
    for item in bodies:
        body = {k: v for k, v in item["body"].items() if k != "file"}
        record = tokenprice.extract_usage(body)
        assert record.has_usage, item["body"]["file"]
        for group in item["extracted"]:
            for ex in group["extractors"]:
                provider = ex["provider_id"]
                if (
                    "input_price" not in ex
                    or provider not in providers
                    or ex["api_flavor"] not in FLAVORS.get(record.format, ())
                ):
                    continue
                cost = tokenprice.price(record, provider=provider, book=book)
                theirs = (Decimal(ex["input_price"]), Decimal(ex["output_price"]))
                if theirs == (cost.input_cost, cost.output_cost):
                    agree += 1
                    continue
                why = explain(record, cost, ex, group["usage"], provider)
                if why is None:
                    unexplained.append(
                        (item["body"]["file"], provider, cost.model, theirs, (cost.input_cost, cost.output_cost))
                    )
                else:
                    classes[why.split(":")[0]] += 1
    print(f"agree {agree}; explained {dict(classes)}; unexplained {len(unexplained)}")
    assert agree > 1000
    assert not unexplained, "\n".join(map(str, unexplained[:30]))

"""price(x) of what just returned: an SDK response object, a dict or JSON text is read as a response with its
provider's cache rule; a Usage, keyword counts or a dict of usage fields are usage; a value both ways with different
counts raises naming both readings. Costs add exactly (`a + b`, `sum(costs)`). Checked on the 1,577 real response
bodies of ../shared/data (see tests/test_real_bodies.py)."""

from __future__ import annotations

import json
import pickle
from decimal import Decimal
from pathlib import Path
from typing import Any

import anthropic.types
import openai.types.chat
import openai.types.responses
import pytest

import tokenprice

from fixture_cases import USAGE, cases_of
from service_server import response_object

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "genai-prices-usages.json"
AT = "2025-10-01T12:00:00Z"


@pytest.fixture(scope="module")
def bodies() -> list[dict[str, Any]]:
    if not DATA.is_file():
        pytest.skip(f"the shared test data is not on this machine: {DATA} is missing (see ../shared/data/README.md)")
    data = json.loads(DATA.read_text())
    return [{k: v for k, v in item["body"].items() if k != "file"} for item in data]


def priceable(body: dict[str, Any]) -> bool:
    try:
        tokenprice.price(tokenprice.extract_usage(body), at=AT)
    except tokenprice.TokenPriceError:
        return False
    return True


def test_every_real_body_prices_the_same_as_a_dict_as_json_and_as_its_record(bodies: list[dict[str, Any]]) -> None:
    priced = 0
    for body in bodies:
        if not priceable(body):
            continue
        by_record = tokenprice.price(tokenprice.extract_usage(body), at=AT)
        assert tokenprice.price(body, at=AT) == by_record, body
        assert tokenprice.price(json.dumps(body), at=AT) == by_record, body
        assert tokenprice.price(json.dumps(body).encode(), at=AT) == by_record, body
        priced += 1
    assert priced > 1200, priced  # most bodies name a model the book prices on that day


def test_anthropic_input_tokens_leave_the_cache_out_in_real_bodies(bodies: list[dict[str, Any]]) -> None:
    cached = [
        b
        for b in bodies
        if str(b.get("model", "")).startswith("claude") and (b["usage"].get("cache_read_input_tokens") or 0) > 0
    ]
    assert cached, "the data holds Anthropic bodies with cache reads"
    for body in cached:
        if not priceable(body):
            continue
        cost = tokenprice.price(body, at=AT)
        items = {i["field"]: i["count"] for i in cost.items}
        u = body["usage"]
        # Anthropic's input_tokens is the uncached rest; the cache is priced on its own line.
        assert items.get("input_tokens", 0) == u["input_tokens"], body
        assert items["cache_read_tokens"] == u["cache_read_input_tokens"], body


def test_sum_of_real_costs_is_exact_and_groups_by_price_sheet(bodies: list[dict[str, Any]]) -> None:
    costs = [tokenprice.price(b, at=AT) for b in bodies[:400] if priceable(b)]
    total = sum(costs)
    assert isinstance(total, tokenprice.Cost)
    assert total.total == sum((c.total for c in costs), Decimal(0))
    assert total.calls == len(costs)
    assert total.total == sum((i["amount"] for i in total.items), Decimal(0))
    assert f"Total of {len(costs)} costs" in total.explain()
    # Addition is associative on totals and `0 + cost` is the cost.
    a, b, c = costs[:3]
    assert ((a + b) + c).total == (a + (b + c)).total == a.total + b.total + c.total
    assert (0 + a) == a and sum([a]) == a


def test_sdk_objects_are_responses() -> None:
    chat = openai.types.chat.ChatCompletion.model_validate(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1759320000,
            "model": "gpt-4o-2024-08-06",
            "choices": [],
            "usage": {
                "prompt_tokens": 2422,
                "completion_tokens": 120,
                "total_tokens": 2542,
                "prompt_tokens_details": {"cached_tokens": 2304},
            },
        }
    )
    by_hand = tokenprice.price(
        tokenprice.Usage(input_tokens=2422, cache_read_tokens=2304, output_tokens=120), model="gpt-4o-2024-08-06", at=AT
    )
    assert tokenprice.price(chat, at=AT).total == by_hand.total
    message = anthropic.types.Message.model_validate(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": "claude-sonnet-4-5-20250929",
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 21, "cache_read_input_tokens": 300, "output_tokens": 503},
        }
    )
    whole = tokenprice.Usage(input_tokens=321, cache_read_tokens=300, output_tokens=503)
    expected = tokenprice.price(whole, model="claude-sonnet-4-5-20250929", at=AT)
    assert tokenprice.price(message, at=AT).total == expected.total
    response = openai.types.responses.Response.model_validate(response_object("gpt-4.1"))
    usage = tokenprice.Usage(input_tokens=328, cache_read_tokens=128, output_tokens=52)
    assert tokenprice.price(response, at=AT).total == tokenprice.price(usage, model="gpt-4.1", at=AT).total


def test_usage_and_keyword_counts_are_usage() -> None:
    usage = tokenprice.Usage(input_tokens=1000, cache_read_tokens=400, output_tokens=50)
    a = tokenprice.price(usage, model="gpt-4o", at=AT)
    b = tokenprice.price(model="gpt-4o", at=AT, input_tokens=1000, cache_read_tokens=400, output_tokens=50)
    c = tokenprice.price({"input_tokens": 1000, "cache_read_tokens": 400, "output_tokens": 50}, model="gpt-4o", at=AT)
    d = tokenprice.price('{"input_tokens": 1000, "cache_read_tokens": 400, "output_tokens": 50}', model="gpt-4o", at=AT)
    assert a == b == c == d
    with pytest.raises(tokenprice.InvalidArgumentError, match="not both"):
        tokenprice.price(usage, model="gpt-4o", input_tokens=3)
    with pytest.raises(tokenprice.InvalidArgumentError, match="needs model="):
        tokenprice.price(input_tokens=3)


def test_neither_reading_names_both() -> None:
    with pytest.raises(tokenprice.UsageFormatError) as e:
        tokenprice.price({"prompt_tokens": 10, "completion_tokens": 2}, model="gpt-4o")
    assert "as usage" in str(e.value) and "as a response" in str(e.value) and "prompt_tokens" in str(e.value)


def test_a_response_without_usage_is_an_error_not_zero() -> None:
    body = {"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o", "choices": []}
    with pytest.raises(tokenprice.UsageFormatError, match="reports no usage"):
        tokenprice.price(body)


def test_a_sum_of_costs_pickles_equal() -> None:
    """Engines ship costs to workers: a sum pickles too, per price sheet with the items it had (calls on both sides
    of a long-context threshold keep their two lines, which pricing the summed usage again would not give)."""
    short = tokenprice.price(model="claude-sonnet-4-5", at=AT, input_tokens=1000, output_tokens=10)
    long = tokenprice.price(model="claude-sonnet-4-5", at=AT, input_tokens=300_000, output_tokens=10)
    other = tokenprice.price(model="gpt-4o", at=AT, input_tokens=5000, cache_read_tokens=1024)
    book = tokenprice.PriceBook.default().with_overrides({"discounts": {"openai": "0.5"}})
    discounted = tokenprice.price(model="gpt-4o", at=AT, input_tokens=7, book=book)
    advisor_record = cases_of(USAGE / "anthropic.json")[5]["input"]  # a record billed on two models
    advisor = tokenprice.price(tokenprice.extract_usage(advisor_record, at="2025-10-01"))
    hit = tokenprice.price(tokenprice.extract_usage(cases_of(USAGE / "cloudflare.json")[1]["input"]))  # cache hit
    assert advisor.explain().count("Part ") == 2 and hit.total == 0
    sums = [short + long, short + long + other, sum([other, discounted, short]), advisor + hit + short, hit + hit]
    for total in sums:
        back = pickle.loads(pickle.dumps(total))
        assert back == total and back.total == total.total and back.calls == total.calls
        assert back.items == total.items and back.explain() == total.explain()
        # It adds up again with more costs exactly as the original does.
        assert (back + other).total == (total + other).total and (back + other).items == (total + other).items
    assert len([i for i in (short + long).items if i["field"] == "input_tokens"]) == 2
    assert pickle.loads(pickle.dumps(sum([]))) == 0  # a sum of nothing is Python's 0
    single = tokenprice.price(model="gpt-4o", at=AT, input_tokens=10)
    assert pickle.loads(pickle.dumps(single)) == single and sum([single]) == single


def test_a_google_genai_response_object_is_a_response() -> None:
    from google.genai import types

    response = types.GenerateContentResponse.model_validate(
        {
            "candidates": [],
            "model_version": "gemini-2.5-flash",
            "usage_metadata": {
                "prompt_token_count": 1200,
                "cached_content_token_count": 1000,
                "candidates_token_count": 300,
                "thoughts_token_count": 450,
                "total_token_count": 1950,
            },
        }
    )
    # Gemini's prompt count includes the cached tokens; thoughts are output beside the candidates.
    usage = tokenprice.Usage(input_tokens=1200, cache_read_tokens=1000, output_tokens=750, reasoning_tokens=450)
    assert tokenprice.price(response, at=AT).total == tokenprice.price(usage, model="gemini-2.5-flash", at=AT).total

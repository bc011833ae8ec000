"""estimate(request) before sending: the prompt counted by the chat rules (exact tokenizer where it is public,
approximate elsewhere), the output as a range from none to the request's limit (or the context window), the
cache cold; count_message_tokens(..., approximate=True) for Claude and Gemini."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

import tokenprice

AT = "2025-10-01"
MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Summarise the following ticket in one line: the printer on floor 3 is jammed again."},
]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_ticket",
            "description": "Fetch a ticket by id",
            "parameters": {"type": "object", "properties": {"id": {"type": "string", "description": "Ticket id"}}},
        },
    }
]


def per_mtok(price: Decimal, tokens: int) -> Decimal:
    return price * tokens / 1_000_000


def test_a_chat_request_is_counted_exactly_and_priced_as_a_range() -> None:
    request = {"model": "gpt-4o", "messages": MESSAGES, "tools": TOOLS, "max_completion_tokens": 300}
    e = tokenprice.estimate(request, at=AT)
    assert e.api == "chat" and not e.approximate and e.encoding == "o200k_base"
    assert e.input_tokens == tokenprice.count_message_tokens(MESSAGES, "gpt-4o", tools=TOOLS)
    assert (e.output_limit, e.output_limit_from) == (300, "max_completion_tokens")
    prices = tokenprice.PriceBook.default().price_at("gpt-4o", AT)["prices"]
    assert e.low.total == per_mtok(Decimal(prices["input_per_mtok"]), e.input_tokens)
    assert e.high is not None
    assert e.high.total - e.low.total == per_mtok(Decimal(prices["output_per_mtok"]), 300)
    # Cache cold: no cache line in either end.
    assert all(i["field"] != "cache_read_tokens" for i in e.high.items)


def test_responses_messages_and_gemini_requests() -> None:
    r = tokenprice.estimate(
        {"model": "gpt-4.1", "instructions": "Be brief.", "input": "Hello there", "max_output_tokens": 50}, at=AT
    )
    chat = [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "Hello there"}]
    assert r.api == "responses" and r.input_tokens == tokenprice.count_message_tokens(chat, "gpt-4.1")
    assert r.output_limit == 50

    m = tokenprice.estimate(
        {
            "model": "claude-sonnet-4-5",
            "max_tokens": 1024,
            "system": "Be brief.",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello there"}]}],
        },
        at=AT,
    )
    assert m.api == "messages" and m.approximate and m.output_limit == 1024
    assert m.input_tokens == tokenprice.count_message_tokens(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}],
        "claude-sonnet-4-5",
        approximate=True,
    )

    g = tokenprice.estimate(
        {
            "contents": [{"role": "user", "parts": [{"text": "Hello there"}]}],
            "generationConfig": {"maxOutputTokens": 64},
        },
        model="gemini-2.5-flash",
        at=AT,
    )
    assert g.api == "gemini" and g.approximate and (g.output_limit, g.output_limit_from) == (64, "maxOutputTokens")


def test_without_a_limit_the_context_window_bounds_the_output() -> None:
    e = tokenprice.estimate({"model": "gpt-4o", "messages": MESSAGES}, at=AT)
    window = tokenprice.PriceBook.default().price_at("gpt-4o", AT)["context_window"]
    assert (e.output_limit, e.output_limit_from) == (window - e.input_tokens, "context_window")


def test_approximate_counts_for_claude_and_gemini_are_marked() -> None:
    with pytest.raises(tokenprice.TokenizerNotPublicError):
        tokenprice.count_message_tokens(MESSAGES, "claude-sonnet-4-5")
    for model in ("claude-sonnet-4-5", "gemini-2.5-pro"):
        n = tokenprice.count_message_tokens(MESSAGES, model, approximate=True)
        assert isinstance(n, tokenprice.ApproximateCount) and n.model == model
        # The same rules on the approximation encoding as an OpenAI model using it.
        assert n == tokenprice.count_message_tokens(MESSAGES, "gpt-4o")
    exact = tokenprice.count_message_tokens(MESSAGES, "gpt-4o", approximate=True)
    assert not isinstance(exact, tokenprice.ApproximateCount)


def test_anthropic_blocks_and_gemini_parts_count_their_text() -> None:
    blocks = [
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "get_ticket", "input": {"id": "42"}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "Printer jammed"}]},
    ]
    n = tokenprice.count_message_tokens(blocks, "claude-sonnet-4-5", approximate=True)
    enc = tokenprice.get_encoding("o200k_base")
    text = enc.count("get_ticket") + enc.count('{"id":"42"}') + enc.count("Printer jammed")
    roles = enc.count("assistant") + enc.count("user")
    assert n == text + roles + 2 * 3 + 3  # per message 3, reply priming 3
    parts = [{"role": "user", "parts": [{"text": "Hello"}, {"inlineData": {"mimeType": "image/png", "data": "..."}}]}]
    g = tokenprice.count_message_tokens(parts, "gemini-2.5-pro", approximate=True)
    assert g == enc.count("user") + enc.count("Hello") + 258 + 3 + 3


def test_a_request_of_no_known_shape_or_without_a_model_says_so() -> None:
    with pytest.raises(tokenprice.InvalidMessageError, match="Responses request"):
        tokenprice.estimate({"model": "gpt-4o", "prompt": "hi"})
    with pytest.raises(tokenprice.InvalidArgumentError, match="needs model="):
        tokenprice.estimate({"contents": []})


def test_every_choice_may_write_the_output_limit_so_high_bounds_the_bill() -> None:
    request = {"model": "gpt-4o", "n": 3, "max_tokens": 100, "messages": MESSAGES}
    e = tokenprice.estimate(request, at=AT)
    one = tokenprice.estimate({**request, "n": 1}, at=AT)
    assert (e.choices, e.output_limit, e.output_limit_from) == (3, 300, "max_tokens")
    assert (one.choices, one.output_limit) == (1, 100)
    assert e.input_tokens == one.input_tokens and e.low.total == one.low.total  # the prompt is billed once
    # What OpenAI can bill: 3 choices of 100 tokens each (usage.completion_tokens is their total).
    response = {
        "id": "c",
        "object": "chat.completion",
        "created": 1759276800,
        "model": "gpt-4o",
        "usage": {"prompt_tokens": e.input_tokens, "completion_tokens": 300},
    }
    assert e.high is not None and e.high.total == tokenprice.price(tokenprice.extract_usage(response), at=AT).total
    # A budget reserving the high end is never overshot by the call.
    budget = tokenprice.Budget({"tenant": str(e.high.total) + "/day"})
    assert budget.check({"tenant": "a"}, e).remaining == Decimal(0)
    # Gemini's candidateCount likewise; Claude's Messages API writes one message per request.
    g = tokenprice.estimate(
        {"contents": [], "generationConfig": {"maxOutputTokens": 64, "candidateCount": 2}},
        model="gemini-2.5-flash",
        at=AT,
    )
    assert (g.choices, g.output_limit) == (2, 128)
    m = tokenprice.estimate({"model": "claude-sonnet-4-5", "max_tokens": 50, "messages": MESSAGES, "n": 2}, at=AT)
    assert m.api == "messages" and (m.choices, m.output_limit) == (1, 50)


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"max_tokens": -1}, "request.max_tokens: expected a whole number of tokens, 0 or more, got -1"),
        ({"max_tokens": "200"}, 'request.max_tokens: expected a whole number of tokens, 0 or more, got "200"'),
        ({"max_tokens": 1.5}, "request.max_tokens: expected a whole number of tokens, 0 or more, got 1.5"),
        ({"max_completion_tokens": -3}, "request.max_completion_tokens: expected a whole number of tokens"),
        ({"n": 0}, "request.n: expected a whole number of choices, 1 or more, got 0"),
        ({"n": "2"}, 'request.n: expected a whole number of choices, 1 or more, got "2"'),
    ],
)
def test_an_invalid_output_limit_or_choice_count_is_an_error_naming_the_field(fields: dict, says: str) -> None:
    with pytest.raises(tokenprice.InvalidMessageError, match=re.escape(says)):
        tokenprice.estimate({"model": "gpt-4o", "messages": MESSAGES, **fields}, at=AT)

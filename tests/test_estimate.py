"""estimate(request) before sending: the prompt counted by the chat rules (exact tokenizer where it is public,
approximate elsewhere), the output as a range from none to the request's limit (or the context window), the
cache cold; count_message_tokens(..., approximate=True) for Claude and Gemini."""

from __future__ import annotations

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

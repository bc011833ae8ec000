"""Chat-message and image token rules (OpenAI's cookbook and vision guide, Anthropic's vision guide)."""

from __future__ import annotations

import pytest

import tokenprice

# The cookbook's example conversation ("How to count tokens with tiktoken").
EXAMPLE = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that translates corporate jargon "
        "into plain English.",
    },
    {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
    {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased "
        "leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the client deliverable.",
    },
]


def by_hand(messages: list[dict[str, str]], model: str, per_message: int = 3, per_name: int = 1) -> int:
    enc = tokenprice.encoding_for_model(model)
    n = 3
    for m in messages:
        n += per_message
        for key, value in m.items():
            n += enc.count(value)
            if key == "name":
                n += per_name
    return n


@pytest.mark.parametrize("model,expected", [("gpt-4o", 124), ("gpt-4o-mini", 124), ("gpt-4-0613", 129)])
def test_cookbook_conversation(model: str, expected: int) -> None:
    # The cookbook reports 124 (gpt-4o family) and 129 (gpt-4 / gpt-3.5) prompt tokens for this conversation.
    assert tokenprice.count_message_tokens(EXAMPLE, model) == expected
    assert tokenprice.count_message_tokens(EXAMPLE, model) == by_hand(EXAMPLE, model)


def test_legacy_0301_overheads() -> None:
    assert tokenprice.count_message_tokens(EXAMPLE, "gpt-3.5-turbo-0301") == by_hand(
        EXAMPLE, "gpt-3.5-turbo-0301", per_message=4, per_name=-1
    )


def test_tools_follow_the_cookbook_formula() -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_current_weather",
                "description": "Get the current weather in a given location",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                        "unit": {
                            "type": "string",
                            "description": "The unit of temperature to return",
                            "enum": ["celsius", "fahrenheit"],
                        },
                    },
                    "required": ["location"],
                },
            },
        }
    ]
    messages = [
        {"role": "system", "content": "You are a helpful assistant that can answer to questions about the weather."},
        {"role": "user", "content": "What's the weather like in San Francisco?"},
    ]
    enc = tokenprice.get_encoding("o200k_base")
    functions = (
        7
        + enc.count("get_current_weather:Get the current weather in a given location")
        + 3
        + 3
        + enc.count("location:string:The city and state, e.g. San Francisco, CA")
        + 3
        - 3
        + 3
        + enc.count("celsius")
        + 3
        + enc.count("fahrenheit")
        + enc.count("unit:string:The unit of temperature to return")
        + 12
    )
    total = tokenprice.count_message_tokens(messages, "gpt-4o", tools=tools)
    assert total == by_hand(messages, "gpt-4o") + functions
    assert total == 101  # the cookbook's figure for gpt-4o


def test_content_parts_and_images() -> None:
    text_only = [{"role": "user", "content": "What is in this image?"}]
    with_image = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this image?"},
                {
                    "type": "image_url",
                    "image_url": {"url": "https://x/y.png", "detail": "high"},
                    "width": 1024,
                    "height": 1024,
                },
            ],
        }
    ]
    diff = tokenprice.count_message_tokens(with_image, "gpt-4o") - tokenprice.count_message_tokens(text_only, "gpt-4o")
    assert diff == 765
    with pytest.raises(tokenprice.InvalidMessageError, match=r"messages\[0\]\.content\[0\].*width"):
        tokenprice.count_message_tokens(
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}], "gpt-4o"
        )
    with pytest.raises(tokenprice.InvalidMessageError, match=r"messages\[1\]"):
        tokenprice.count_message_tokens([{"role": "user", "content": "x"}, "not a dict"], "gpt-4o")


def test_sdk_like_objects_with_model_dump() -> None:
    class Message:
        def __init__(self, role: str, content: str) -> None:
            self.role, self.content = role, content

        def model_dump(self, exclude_none: bool = True) -> dict[str, str]:
            return {"role": self.role, "content": self.content}

    plain = [{"role": "user", "content": "hello there"}]
    assert tokenprice.count_message_tokens(
        [Message("user", "hello there")], "gpt-4o"
    ) == tokenprice.count_message_tokens(plain, "gpt-4o")


@pytest.mark.parametrize(
    "w,h,model,detail,expected",
    [
        (1024, 1024, "gpt-4o", "high", 765),  # the vision guide's examples
        (2048, 4096, "gpt-4o", "high", 1105),
        (4096, 4096, "gpt-4o", "low", 85),
        (1024, 1024, "gpt-4.1", "auto", 765),
        (1024, 1024, "o1", "high", 75 + 4 * 150),
        (512, 512, "gpt-4o-mini", "high", 2833 + 5667),
        (1024, 1024, "gpt-4.1-mini", "auto", 1659),  # 1024 patches x 1.62, rounded up
        (1800, 2400, "gpt-4.1-nano", "auto", 3572),  # 1452 patches x 2.46, rounded up
        (1092, 1092, "claude-sonnet-4-5", "auto", 1590),  # Anthropic's table
    ],
)
def test_image_tokens(w: int, h: int, model: str, detail: str, expected: int) -> None:
    assert tokenprice.image_tokens(w, h, model, detail) == expected  # type: ignore[arg-type]


def test_image_token_errors() -> None:
    with pytest.raises(tokenprice.InvalidArgumentError, match="no published image-token rule"):
        tokenprice.image_tokens(10, 10, "o3-mini")
    with pytest.raises(tokenprice.InvalidArgumentError, match="medium"):
        tokenprice.image_tokens(10, 10, "gpt-4o", "medium")  # type: ignore[arg-type]
    with pytest.raises(tokenprice.InvalidArgumentError, match="width=-1 is out of range"):
        tokenprice.image_tokens(-1, 10, "gpt-4o")

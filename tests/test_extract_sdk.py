"""Records built through the providers' own SDK response types (openai, anthropic, google-genai), so that they
have the SDK's real shape, passed to extract_usage as the SDK objects themselves (read through ``model_dump``)
and as the JSON the SDK writes."""

from __future__ import annotations

import datetime as dt

import anthropic.types as at
import openai.types.chat as oc
import openai.types.completion_usage as ou
import openai.types.responses as orr
from google.genai import types as gt

import tokenprice


def both(obj: object) -> list[object]:
    """The SDK object, and the JSON text it serializes to."""
    return [obj, obj.model_dump_json(by_alias=True, exclude_none=True)]  # type: ignore[attr-defined]


def test_openai_chat_completion() -> None:
    completion = oc.ChatCompletion(
        id="chatcmpl-sdk",
        object="chat.completion",
        created=1746100800,
        model="gpt-4o-2024-08-06",
        choices=[
            oc.chat_completion.Choice(
                index=0,
                finish_reason="stop",
                message=oc.ChatCompletionMessage(role="assistant", content="Hello"),
            )
        ],
        usage=ou.CompletionUsage(
            prompt_tokens=2422,
            completion_tokens=120,
            total_tokens=2542,
            prompt_tokens_details=ou.PromptTokensDetails(cached_tokens=2304, audio_tokens=0),
            completion_tokens_details=ou.CompletionTokensDetails(reasoning_tokens=64, audio_tokens=0),
        ),
        service_tier="default",
    )
    for form in both(completion):
        r = tokenprice.extract_usage(form)
        assert (r.format, r.model, r.id) == ("openai_chat", "gpt-4o-2024-08-06", "chatcmpl-sdk")
        assert r.usage == tokenprice.Usage(
            input_tokens=2422, cache_read_tokens=2304, output_tokens=120, reasoning_tokens=64
        )
        assert r.timestamp == dt.datetime(2025, 5, 1, 12, tzinfo=dt.timezone.utc)


def test_openai_stream_chunks() -> None:
    chunks = [
        oc.ChatCompletionChunk(
            id="c1",
            object="chat.completion.chunk",
            created=1746100800,
            model="gpt-4.1",
            choices=[
                oc.chat_completion_chunk.Choice(index=0, delta=oc.chat_completion_chunk.ChoiceDelta(content="Hi"))
            ],
        ),
        oc.ChatCompletionChunk(
            id="c1",
            object="chat.completion.chunk",
            created=1746100800,
            model="gpt-4.1",
            choices=[],
            usage=ou.CompletionUsage(prompt_tokens=50, completion_tokens=2, total_tokens=52),
        ),
    ]
    r = tokenprice.extract_usage(chunks)
    assert (r.format, r.model, r.usage) == (
        "openai_chat",
        "gpt-4.1",
        tokenprice.Usage(input_tokens=50, output_tokens=2),
    )


def test_openai_responses() -> None:
    response = orr.Response.model_validate(
        {
            "id": "resp_sdk",
            "object": "response",
            "created_at": 1746100800,
            "model": "o3-2025-04-16",
            "status": "completed",
            "output": [],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "service_tier": "flex",
            "usage": {
                "input_tokens": 328,
                "input_tokens_details": {"cached_tokens": 128, "cache_write_tokens": 0},
                "output_tokens": 52,
                "output_tokens_details": {"reasoning_tokens": 40},
                "total_tokens": 380,
            },
        }
    )
    assert isinstance(response.usage, orr.ResponseUsage)
    for form in both(response):
        r = tokenprice.extract_usage(form)
        assert (r.format, r.model, r.service_tier) == ("openai_responses", "o3-2025-04-16", "flex")
        assert r.usage == tokenprice.Usage(
            input_tokens=328, cache_read_tokens=128, output_tokens=52, reasoning_tokens=40
        )
        assert tokenprice.price(r).service_tier == "flex"


def test_anthropic_message() -> None:
    message = at.Message(
        id="msg_sdk",
        type="message",
        role="assistant",
        model="claude-sonnet-4-5-20250929",
        content=[at.TextBlock(type="text", text="Hi")],
        stop_reason="end_turn",
        stop_sequence=None,
        usage=at.Usage(
            input_tokens=21,
            output_tokens=503,
            cache_creation_input_tokens=2051,
            cache_read_input_tokens=300,
            cache_creation=at.CacheCreation(ephemeral_5m_input_tokens=51, ephemeral_1h_input_tokens=2000),
            server_tool_use=at.ServerToolUsage(web_search_requests=2, web_fetch_requests=0),
            service_tier="standard",
        ),
    )
    for form in both(message):
        r = tokenprice.extract_usage(form, at="2025-10-01")
        assert (r.format, r.model, r.id) == ("anthropic", "claude-sonnet-4-5-20250929", "msg_sdk")
        assert r.usage == tokenprice.Usage(
            input_tokens=2372,
            cache_read_tokens=300,
            cache_write_tokens=51,
            cache_write_1h_tokens=2000,
            output_tokens=503,
            web_searches=2,
        )


def test_google_genai_response() -> None:
    response = gt.GenerateContentResponse(
        candidates=[gt.Candidate(content=gt.Content(role="model", parts=[gt.Part(text="ok")]))],
        model_version="gemini-2.5-flash",
        response_id="r-sdk",
        usage_metadata=gt.GenerateContentResponseUsageMetadata(
            prompt_token_count=373,
            cached_content_token_count=204,
            candidates_token_count=89,
            thoughts_token_count=167,
            tool_use_prompt_token_count=10,
            total_token_count=639,
            prompt_tokens_details=[
                gt.ModalityTokenCount(modality=gt.MediaModality.TEXT, token_count=115),
                gt.ModalityTokenCount(modality=gt.MediaModality.IMAGE, token_count=258),
            ],
        ),
    )
    expected = tokenprice.Usage(
        input_tokens=383, cache_read_tokens=204, input_image_tokens=258, output_tokens=256, reasoning_tokens=167
    )
    # The SDK object, its camelCase JSON, and a snake_case dump made by hand all read the same.
    forms = [*both(response), response.model_dump(exclude_none=True, mode="json")]
    for form in forms:
        r = tokenprice.extract_usage(form)
        assert (r.format, r.model, r.id) == ("gemini", "gemini-2.5-flash", "r-sdk")
        assert r.usage == expected

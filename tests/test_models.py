"""Model name → encoding, for every OpenAI family and the forms logs contain."""

from __future__ import annotations

import pytest

import tokenprice

CASES = {
    "gpt-3.5-turbo": "cl100k_base",
    "gpt-3.5-turbo-0125": "cl100k_base",
    "gpt-35-turbo": "cl100k_base",
    "gpt-4": "cl100k_base",
    "gpt-4-0613": "cl100k_base",
    "gpt-4-turbo-2024-04-09": "cl100k_base",
    "gpt-4o": "o200k_base",
    "gpt-4o-2024-08-06": "o200k_base",
    "gpt-4o-mini-2024-07-18": "o200k_base",
    "chatgpt-4o-latest": "o200k_base",
    "gpt-4.1": "o200k_base",
    "gpt-4.1-nano-2025-04-14": "o200k_base",
    "gpt-4.5-preview": "o200k_base",
    "gpt-5": "o200k_base",
    "gpt-5-mini": "o200k_base",
    "gpt-5.1": "o200k_base",
    "gpt-5.2-codex": "o200k_base",
    "o1": "o200k_base",
    "o1-mini": "o200k_base",
    "o3-mini-2025-01-31": "o200k_base",
    "o4-mini": "o200k_base",
    "gpt-oss-20b": "o200k_harmony",
    "gpt-oss-120b": "o200k_harmony",
    "text-embedding-3-small": "cl100k_base",
    "text-embedding-ada-002": "cl100k_base",
    "davinci-002": "cl100k_base",
    "text-davinci-003": "p50k_base",
    "code-davinci-002": "p50k_base",
    "text-davinci-edit-001": "p50k_edit",
    "davinci": "r50k_base",
    "text-similarity-ada-001": "r50k_base",
    "gpt2": "gpt2",
    # forms found in gateway and cloud logs
    "openai/gpt-4o-2024-08-06": "o200k_base",
    "azure/gpt-4o": "o200k_base",
    "azure/gpt-35-turbo-16k": "cl100k_base",
    "openrouter/openai/gpt-4.1-mini": "o200k_base",
    "ft:gpt-4o-mini-2024-07-18:acme::9xYz": "o200k_base",
    "openai.gpt-oss-120b-1:0": "o200k_harmony",
    "publishers/openai/models/gpt-oss-20b": "o200k_harmony",
}


@pytest.mark.parametrize("model,encoding", CASES.items())
def test_model_to_encoding(model: str, encoding: str) -> None:
    assert tokenprice.encoding_name_for_model(model) == encoding
    assert tokenprice.encoding_for_model(model).name == encoding


def test_agrees_with_tiktoken_where_tiktoken_knows(tiktoken_module) -> None:  # type: ignore[no-untyped-def]
    from tiktoken.model import MODEL_TO_ENCODING

    for model, encoding in MODEL_TO_ENCODING.items():
        assert tokenprice.encoding_name_for_model(model) == encoding, model


def test_unknown_model_lists_closest_names() -> None:
    with pytest.raises(tokenprice.UnknownModelError) as info:
        tokenprice.encoding_for_model("gpt4o-mini")
    message = str(info.value)
    assert "gpt4o-mini" in message and "gpt-4o-mini" in message
    assert isinstance(info.value, KeyError)  # like tiktoken
    assert not message.startswith("'")  # KeyError's quoting is not applied


def test_unpublished_tokenizers() -> None:
    for model in ["claude-opus-4-1", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "gemini-2.5-flash"]:
        with pytest.raises(tokenprice.TokenizerNotPublicError):
            tokenprice.encoding_for_model(model)


def test_unknown_encoding() -> None:
    with pytest.raises(tokenprice.UnknownEncodingError, match="cl100k_base"):
        tokenprice.get_encoding("cl100k")
    assert set(tokenprice.list_encoding_names()) >= {"cl100k_base", "o200k_base", "o200k_harmony"}

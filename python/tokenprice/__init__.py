"""tokenprice: exact LLM token counting (and pricing) from a Rust engine.

Counting::

    import tokenprice
    tokenprice.count_tokens("Hello, world!", model="gpt-4o")          # 4
    tokenprice.count_tokens(["a", "b c", None], model="gpt-4o")       # [1, 2, None]
    tokenprice.count_tokens(df["prompt"], model="gpt-4.1-mini")       # a column of the same kind, index kept
    enc = tokenprice.get_encoding("cl100k_base")                      # tiktoken-compatible Encoding
"""

from __future__ import annotations

from tokenprice._core import (
    APPROXIMATION_ENCODING,
    DisallowedSpecialTokenError,
    Encoding,
    InputError,
    InternalError,
    InvalidArgumentError,
    InvalidMessageError,
    InvalidTextError,
    InvalidTokenError,
    StreamCounter,
    TokenizerFileError,
    TokenizerNotPublicError,
    TokenPriceError,
    UnknownEncodingError,
    UnknownModelError,
    __version__,
    count_file,
    count_message_tokens,
    encoding_for_model,
    encoding_name_for_model,
    get_encoding,
    image_tokens,
    list_encoding_names,
)
from tokenprice._count import ApproximateCount, ApproximationWarning, count_tokens

__all__ = [
    "APPROXIMATION_ENCODING",
    "ApproximateCount",
    "ApproximationWarning",
    "DisallowedSpecialTokenError",
    "Encoding",
    "InputError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidMessageError",
    "InvalidTextError",
    "InvalidTokenError",
    "StreamCounter",
    "TokenPriceError",
    "TokenizerFileError",
    "TokenizerNotPublicError",
    "UnknownEncodingError",
    "UnknownModelError",
    "__version__",
    "count_file",
    "count_message_tokens",
    "count_tokens",
    "encoding_for_model",
    "encoding_name_for_model",
    "get_encoding",
    "image_tokens",
    "list_encoding_names",
]

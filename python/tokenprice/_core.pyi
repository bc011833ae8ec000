"""Type stubs for the native module ``tokenprice._core`` (built from ``src/py/``)."""

from collections.abc import Iterable
from os import PathLike
from typing import Any, Literal, final

__all__ = [
    "TokenPriceError",
    "UnknownModelError",
    "UnknownEncodingError",
    "TokenizerNotPublicError",
    "DisallowedSpecialTokenError",
    "InvalidTokenError",
    "TokenizerFileError",
    "InvalidTextError",
    "InputError",
    "InvalidArgumentError",
    "InvalidMessageError",
    "InternalError",
    "Encoding",
    "StreamCounter",
    "get_encoding",
    "encoding_for_model",
    "encoding_name_for_model",
    "list_encoding_names",
    "lookup_model",
    "count_message_tokens",
    "image_tokens",
    "count_file",
    "count_column",
    "_encoding_from_ranks",
    "_encoding_from_tokenizer_json_str",
    "_panic_for_tests",
    "APPROXIMATION_ENCODING",
    "__version__",
]

__version__: str
APPROXIMATION_ENCODING: str

class TokenPriceError(Exception):
    """Base class of every error tokenprice raises."""

class UnknownModelError(TokenPriceError, KeyError):
    """No tokenizer is known for this model name."""

class UnknownEncodingError(TokenPriceError, ValueError):
    """No built-in encoding has this name."""

class TokenizerNotPublicError(TokenPriceError):
    """The model's tokenizer is not public; pass approximate=True to estimate."""

class DisallowedSpecialTokenError(TokenPriceError, ValueError):
    """Text contains a special token that was not allowed."""

class InvalidTokenError(TokenPriceError, KeyError):
    """A token id that is not in the encoding."""

class TokenizerFileError(TokenPriceError, ValueError):
    """A tokenizer or vocabulary file that cannot be parsed."""

class InvalidTextError(TokenPriceError, ValueError):
    """Input that is not valid UTF-8 text."""

class InputError(TokenPriceError):
    """Input that cannot be read (a missing or unreadable file)."""

class InvalidArgumentError(TokenPriceError, ValueError):
    """An argument outside its valid values."""

class InvalidMessageError(TokenPriceError, ValueError):
    """A chat message or tool definition of the wrong shape."""

class InternalError(TokenPriceError, RuntimeError):
    """A bug in tokenprice (please report it)."""

_Special = Literal["all"] | Iterable[str]

@final
class Encoding:
    """A tokenizer: a built-in OpenAI encoding, a tiktoken rank file, or a Hugging Face tokenizer.json."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> Literal["tiktoken", "huggingface"]: ...
    @property
    def n_vocab(self) -> int: ...
    @property
    def max_token_value(self) -> int: ...
    @property
    def pattern(self) -> str | None: ...
    @property
    def special_tokens_set(self) -> frozenset[str]: ...
    @property
    def eot_token(self) -> int | None: ...
    def encode(
        self, text: str, *, allowed_special: _Special | None = None, disallowed_special: _Special | None = None
    ) -> list[int]: ...
    def encode_ordinary(self, text: str) -> list[int]: ...
    def encode_batch(
        self,
        texts: Iterable[str],
        *,
        num_threads: int | None = None,
        allowed_special: _Special | None = None,
        disallowed_special: _Special | None = None,
    ) -> list[list[int]]: ...
    def encode_ordinary_batch(self, texts: Iterable[str], *, num_threads: int | None = None) -> list[list[int]]: ...
    def decode_bytes(self, tokens: Iterable[int]) -> bytes: ...
    def decode(self, tokens: Iterable[int], errors: str = "replace") -> str: ...
    def decode_single_token_bytes(self, token: int) -> bytes: ...
    def count(self, text: str, *, allowed_special: _Special | None = None, num_threads: int | None = None) -> int: ...
    def count_batch(
        self, texts: Any, *, allowed_special: _Special | None = None, num_threads: int | None = None
    ) -> Any: ...
    def count_till_limit(self, text: str, limit: int, *, allowed_special: _Special | None = None) -> int | None: ...
    @staticmethod
    def from_tiktoken_file(
        path: str | PathLike[str],
        *,
        pattern: str,
        special_tokens: Iterable[tuple[str, int]] | dict[str, int] | None = None,
        name: str | None = None,
    ) -> Encoding: ...
    @staticmethod
    def from_ranks(
        name: str,
        *,
        mergeable_ranks: dict[bytes, int] | Iterable[tuple[bytes, int]],
        pattern: str,
        special_tokens: Iterable[tuple[str, int]] | dict[str, int] | None = None,
    ) -> Encoding: ...
    @staticmethod
    def from_tokenizer_json(path: str | PathLike[str], *, name: str | None = None) -> Encoding: ...
    @staticmethod
    def from_tokenizer_json_str(json: str, *, name: str) -> Encoding: ...
    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class StreamCounter:
    """Counts a stream fed in pieces of bytes: feed() as often as needed, then finish() for the total."""

    def __new__(
        cls,
        encoding: Encoding,
        *,
        source: str = "<stream>",
        errors: Literal["strict", "replace"] = "strict",
        num_threads: int | None = None,
    ) -> StreamCounter: ...
    def feed(self, data: bytes) -> None: ...
    def finish(self) -> int: ...

def get_encoding(name: str) -> Encoding: ...
def encoding_for_model(model: str) -> Encoding: ...
def encoding_name_for_model(model: str) -> str: ...
def list_encoding_names() -> list[str]: ...
def lookup_model(model: str) -> tuple[Literal["encoding", "not_public"], str] | None: ...
def count_message_tokens(messages: Iterable[Any], model: str, tools: Iterable[Any] | None = None) -> int: ...
def image_tokens(width: int, height: int, model: str, detail: Literal["auto", "low", "high"] = "auto") -> int: ...
def count_file(
    path: str | PathLike[str],
    encoding: Encoding,
    *,
    errors: Literal["strict", "replace"] = "strict",
    num_threads: int | None = None,
) -> int: ...
def count_column(
    encoding: Encoding, column: Any, *, allowed_special: _Special | None = None, num_threads: int | None = None
) -> Any: ...
def _encoding_from_ranks(
    name: str, ranks: Iterable[tuple[bytes, int]], pattern: str, specials: Iterable[tuple[str, int]]
) -> Encoding: ...
def _encoding_from_tokenizer_json_str(json: str, name: str) -> Encoding: ...
def _panic_for_tests(message: str, threads: bool) -> None: ...

"""Type stubs for the native module ``tokenprice._core`` (built from ``src/py/``)."""

import datetime
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
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
    "InvalidTypeError",
    "InvalidMessageError",
    "InternalError",
    "PriceBookError",
    "UnknownProviderError",
    "AmbiguousModelError",
    "NoPriceError",
    "InvalidUsageError",
    "UsageFormatError",
    "BudgetStoreError",
    "Encoding",
    "StreamCounter",
    "get_encoding",
    "encoding_for_model",
    "encoding_name_for_model",
    "list_encoding_names",
    "lookup_model",
    "count_message_tokens",
    "image_tokens",
    "PriceBook",
    "Usage",
    "Cost",
    "price",
    "Estimate",
    "estimate",
    "price_arrow_table",
    "usage_fields",
    "UsageRecord",
    "extract_usage",
    "extract_usages",
    "usage_formats",
    "formats",
    "log_columns",
    "price_log_files",
    "price_log_texts",
    "total_log_texts",
    "reconcile_lines",
    "reprice_lines",
    "count_file",
    "count_column",
    "ArrowTable",
    "ArrowArray",
    "_encoding_from_ranks",
    "_encoding_from_tokenizer_json_str",
    "_panic_for_tests",
    "_cost_of_parts",
    "_cost_of_sections",
    "MemoryStore",
    "Decision",
    "_Limiter",
    "_Pending",
    "APPROXIMATION_ENCODING",
    "RECONCILE_CAUSES",
    "COST_COLUMNS",
    "SUMMARY_COLUMNS",
    "COMPARISON_COLUMNS",
    "MISMATCH_COLUMNS",
    "PRICE_KEYS",
    "PROVIDER_KEYS",
    "RENAMED_BESIDE",
    "__version__",
]

__version__: str
APPROXIMATION_ENCODING: str
RECONCILE_CAUSES: list[str]

# The ledger's cost columns (then total_cost), the price keys in the order of the unit table, a provider file's keys.
COST_COLUMNS: tuple[str, ...]
# The columns a summary adds beside its keys and the cost columns (a label of one of these names is metadata.<name>).
SUMMARY_COLUMNS: tuple[str, ...]
# The columns reprice()/savings() add beside their keys, rows and total_cost, and those a reconciliation's
# mismatches add beside id, source, line and model: a label of one of these names keeps its name in .table and is
# the column metadata.<name> in those results only.
COMPARISON_COLUMNS: tuple[str, ...]
MISMATCH_COLUMNS: tuple[str, ...]
PRICE_KEYS: tuple[str, ...]
PROVIDER_KEYS: tuple[str, ...]
RENAMED_BESIDE: list[tuple[str, str]]

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

class InvalidTypeError(TokenPriceError, TypeError):
    """An argument of the wrong type."""

class InvalidMessageError(TokenPriceError, ValueError):
    """A chat message or tool definition of the wrong shape."""

class UnknownProviderError(TokenPriceError, KeyError):
    """A provider name the price book does not know."""

class AmbiguousModelError(TokenPriceError, ValueError):
    """A model several providers price, with no provider given."""

class NoPriceError(TokenPriceError, LookupError):
    """No price for the model on that date or in that service tier."""

class InvalidUsageError(TokenPriceError, ValueError):
    """Impossible usage counts (negative, fractional, parts above totals)."""

class UsageFormatError(TokenPriceError, ValueError):
    """A record that cannot be read as usage (unknown shape, bad field)."""

class PriceBookError(TokenPriceError, ValueError):
    """A price file or price definition that breaks the schema."""

class BudgetStoreError(TokenPriceError, RuntimeError):
    """A budget's store (Redis) cannot be reached and the budget fails closed."""

class InternalError(TokenPriceError, RuntimeError):
    """A bug in tokenprice (please report it)."""

_Special = Literal["all"] | Iterable[str]

@final
class Encoding:
    """A tokenizer: a built-in OpenAI encoding, a tiktoken rank file, or a Hugging Face tokenizer.json."""

    def _repr_html_(self) -> str: ...
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
    def decode(self, tokens: Iterable[int], errors: str | None = None) -> str: ...
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
class ArrowTable:
    """A table the extension made; read it through the Arrow PyCapsule interface (``pyarrow.table(t)``,
    ``pyarrow.RecordBatchReader.from_stream(t)``, ``polars.DataFrame(t)``), without a copy."""

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...
    def __arrow_c_schema__(self) -> object: ...
    @property
    def num_rows(self) -> int: ...
    def __len__(self) -> int: ...

@final
class ArrowArray:
    """A column the extension made; read it through the Arrow PyCapsule interface (``pyarrow.array(a)``,
    ``polars.Series(a)``), without a copy."""

    def __arrow_c_array__(self, requested_schema: object | None = None) -> tuple[object, object]: ...
    def __arrow_c_schema__(self) -> object: ...
    def __len__(self) -> int: ...

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
def count_message_tokens(
    messages: Iterable[Any], model: str, tools: Iterable[Any] | None = None, approximate: bool = False
) -> int: ...
def image_tokens(width: int, height: int, model: str, detail: Literal["auto", "low", "high"] | None = None) -> int: ...
def count_file(
    path: str | PathLike[str],
    encoding: Encoding,
    *,
    errors: Literal["strict", "replace"] = "strict",
    num_threads: int | None = None,
) -> int: ...
def count_column(
    encoding: Encoding, column: Any, *, allowed_special: _Special | None = None, num_threads: int | None = None
) -> ArrowArray: ...
def _encoding_from_ranks(
    name: str, ranks: Iterable[tuple[bytes, int]], pattern: str, specials: Iterable[tuple[str, int]]
) -> Encoding: ...
def _encoding_from_tokenizer_json_str(json: str, name: str) -> Encoding: ...
def _panic_for_tests(message: str, threads: bool) -> None: ...
def _cost_of_parts(first: Cost, others: list[Cost], cache_hit: bool) -> Cost: ...
def _cost_of_sections(
    sections: list[tuple[Cost, list[tuple[int, int, int, int, int | None, int]], int, str | None]],
) -> Cost: ...

_Instant = datetime.datetime | datetime.date | str | int | float | None

@final
class PriceBook:
    """A price book: the default one (embedded), one loaded from files or dicts, or one with overrides."""

    @staticmethod
    def default() -> PriceBook: ...
    @staticmethod
    def from_dicts(
        providers: Iterable[Mapping[str, Any]] | Mapping[str, Any], *, origin: str = "dicts"
    ) -> PriceBook: ...
    @staticmethod
    def from_path(path: str | PathLike[str]) -> PriceBook: ...
    def with_overrides(self, overrides: Mapping[str, Any] | str | PathLike[str]) -> PriceBook: ...
    def resolve(self, model: str, provider: str | None = None) -> dict[str, Any]: ...
    def price_at(self, model: str, at: _Instant = None, provider: str | None = None) -> dict[str, Any]: ...
    def models(self, provider: str | None = None) -> list[dict[str, Any]]: ...
    @property
    def providers(self) -> list[str]: ...
    @property
    def origin(self) -> str: ...
    def __len__(self) -> int: ...
    def _repr_html_(self) -> str: ...
    def __dask_tokenize__(self) -> tuple[str, bytes]: ...

@final
class Usage:
    """What one request used. input_tokens is the whole prompt, output_tokens the whole output."""

    fields: list[str]
    def __new__(
        cls,
        *,
        input_tokens: int | float | None = ...,
        output_tokens: int | float | None = ...,
        cache_read_tokens: int | float | None = ...,
        cache_write_tokens: int | float | None = ...,
        cache_write_1h_tokens: int | float | None = ...,
        reasoning_tokens: int | float | None = ...,
        citation_tokens: int | float | None = ...,
        input_audio_tokens: int | float | None = ...,
        output_audio_tokens: int | float | None = ...,
        cache_audio_read_tokens: int | float | None = ...,
        input_image_tokens: int | float | None = ...,
        output_image_tokens: int | float | None = ...,
        cache_image_read_tokens: int | float | None = ...,
        input_video_tokens: int | float | None = ...,
        output_video_tokens: int | float | None = ...,
        input_characters: int | float | None = ...,
        input_text_messages: int | float | None = ...,
        audio_seconds: int | float | None = ...,
        input_audio_seconds: int | float | None = ...,
        input_document_pages: int | float | None = ...,
        input_annotated_document_pages: int | float | None = ...,
        web_searches: int | float | None = ...,
        storage_searches: int | float | None = ...,
        requests: int | float | None = ...,
    ) -> Usage: ...
    @property
    def input_tokens(self) -> int: ...
    @property
    def output_tokens(self) -> int: ...
    @property
    def cache_read_tokens(self) -> int: ...
    @property
    def cache_write_tokens(self) -> int: ...
    @property
    def cache_write_1h_tokens(self) -> int: ...
    @property
    def reasoning_tokens(self) -> int: ...
    @property
    def citation_tokens(self) -> int: ...
    @property
    def input_audio_tokens(self) -> int: ...
    @property
    def output_audio_tokens(self) -> int: ...
    @property
    def cache_audio_read_tokens(self) -> int: ...
    @property
    def input_image_tokens(self) -> int: ...
    @property
    def output_image_tokens(self) -> int: ...
    @property
    def cache_image_read_tokens(self) -> int: ...
    @property
    def input_video_tokens(self) -> int: ...
    @property
    def output_video_tokens(self) -> int: ...
    @property
    def input_characters(self) -> int: ...
    @property
    def input_text_messages(self) -> int: ...
    @property
    def audio_seconds(self) -> int: ...
    @property
    def input_audio_seconds(self) -> int: ...
    @property
    def input_document_pages(self) -> int: ...
    @property
    def input_annotated_document_pages(self) -> int: ...
    @property
    def web_searches(self) -> int: ...
    @property
    def storage_searches(self) -> int: ...
    @property
    def requests(self) -> int: ...
    def to_dict(self) -> dict[str, int]: ...
    def __add__(self, other: Usage, /) -> Usage: ...
    def __radd__(self, other: Usage, /) -> Usage: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Cost:
    """The cost of one usage: an exact total, its items, the price entry used, and explain()."""

    @property
    def total(self) -> Decimal: ...
    @property
    def input_cost(self) -> Decimal: ...
    @property
    def output_cost(self) -> Decimal: ...
    @property
    def items(self) -> list[dict[str, Any]]: ...
    @property
    def model(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def service_tier(self) -> str: ...
    @property
    def effective_from(self) -> datetime.date | None: ...
    @property
    def source(self) -> str | None: ...
    @property
    def origin(self) -> str | None: ...
    @property
    def region(self) -> str | None: ...
    @property
    def currency(self) -> str: ...
    def explain(self) -> str: ...
    def _repr_html_(self) -> str: ...
    @property
    def calls(self) -> int: ...
    def __add__(self, other: Cost | int, /) -> Cost: ...
    def __radd__(self, other: Cost | int, /) -> Cost: ...
    def __eq__(self, other: object, /) -> bool: ...

def price(
    usage: Usage | Mapping[str, Any] | UsageRecord | str | bytes | Any = None,
    model: str | None = None,
    provider: str | None = None,
    at: _Instant = None,
    service_tier: str | None = None,
    book: PriceBook | None = None,
    region: str | None = None,
    **counts: int,
) -> Cost: ...

@final
class Estimate:
    """What a request will cost before it is sent: the prompt counted, the output as a range (low: none; high: the
    limit of every choice), the cache cold."""

    @property
    def api(self) -> Literal["chat", "responses", "messages", "gemini"]: ...
    @property
    def model(self) -> str: ...
    @property
    def input_tokens(self) -> int: ...
    @property
    def approximate(self) -> bool: ...
    @property
    def encoding(self) -> str: ...
    @property
    def choices(self) -> int: ...  # chat's `n`, Gemini's `candidateCount` (1 when unset)
    @property
    def output_limit(self) -> int | None: ...  # each choice's limit times `choices`
    @property
    def output_limit_from(self) -> str | None: ...
    @property
    def low(self) -> Cost: ...
    @property
    def high(self) -> Cost | None: ...

@final
class MemoryStore:
    """Limits counted in this process (thread-safe; the core's `budget::MemoryStore`)."""

    def __init__(self) -> None: ...
    def reserve(self, slots: Iterable[tuple[str, int, int, bool, int]], now_ms: int) -> tuple[bool, int, list[int]]: ...
    def settle(self, entries: Iterable[tuple[str, int, int]]) -> None: ...
    def __len__(self) -> int: ...

@final
class Decision:
    """What a budget's or rate limit's `check` decided; truthy when allowed; recorded (settled) once."""

    @property
    def allowed(self) -> bool: ...
    @property
    def degraded(self) -> bool: ...
    @property
    def limit(self) -> str | None: ...
    @property
    def remaining(self) -> Decimal | int | None: ...
    @property
    def resets_at(self) -> datetime.datetime | None: ...
    def __bool__(self) -> bool: ...
    @staticmethod
    def _degraded() -> Decision: ...

@final
class _Pending:
    @property
    def slots(self) -> list[tuple[str, int, int, bool, int]]: ...
    @property
    def now_ms(self) -> int: ...

@final
class _Limiter:
    def __new__(
        cls,
        rules: Iterable[tuple[Iterable[str], str, int, int, str]],
        sliding: bool,
        prefix: str,
        store: MemoryStore | None = None,
        clock: Callable[[], float] | None = None,
    ) -> _Limiter: ...
    def check(self, labels: Mapping[str, Any], usd: Any = None, tokens: int = 0, requests: int = 0) -> Decision: ...
    def slots_for(self, labels: Mapping[str, Any], usd: Any = None, tokens: int = 0, requests: int = 0) -> _Pending: ...
    def decide(self, pending: _Pending, allowed: bool, denied: int, remaining: list[int]) -> Decision: ...
    def settle(
        self, decision: Decision, usd: Any = None, tokens: int | None = None
    ) -> list[tuple[str, int, int]] | None: ...

def estimate(
    request: Mapping[str, Any] | Any,
    model: str | None = None,
    book: PriceBook | None = None,
    *,
    provider: str | None = None,
    at: _Instant = None,
    service_tier: str | None = None,
    region: str | None = None,
) -> Estimate: ...
def price_arrow_table(
    table: Any,
    *,
    book: PriceBook | None = None,
    model: str | None = None,
    timestamp: str | None = ...,
    provider: str | None = None,
    service_tier: str | None = None,
    region: str | None = None,
    cache_hit: str | None = None,
    counts: Mapping[str, str] | None = None,
    default_at: _Instant = None,
    input_excludes_cache: bool | None = None,
    itemized: bool = False,
    as_float: bool = False,
    keep_columns: bool = False,
    num_threads: int | None = None,
) -> ArrowTable: ...
def usage_fields() -> list[str]: ...

_Record = Mapping[str, Any] | list[Any] | str | bytes | bytearray | Any

@final
class UsageRecord:
    """One request's usage, read from a provider response or a log record and normalized."""

    @property
    def format(self) -> str: ...
    @property
    def provider(self) -> str | None: ...
    @property
    def model(self) -> str | None: ...
    @property
    def served_model(self) -> str | None: ...
    @property
    def timestamp(self) -> datetime.datetime | None: ...
    @property
    def usage(self) -> Usage: ...
    @property
    def parts(self) -> list[tuple[str | None, Usage]]: ...
    @property
    def service_tier(self) -> str | None: ...
    @property
    def region(self) -> str | None: ...
    @property
    def cache_hit(self) -> bool: ...
    @property
    def status(self) -> str: ...
    @property
    def status_code(self) -> int | None: ...
    @property
    def has_usage(self) -> bool: ...
    @property
    def metadata(self) -> dict[str, str | int | float | bool]: ...
    @property
    def reported_cost(self) -> Decimal | None: ...
    @property
    def id(self) -> str | None: ...
    @property
    def duration_ms(self) -> Decimal | None: ...
    @property
    def ttft_ms(self) -> Decimal | None: ...
    @property
    def trace_id(self) -> str | None: ...
    @property
    def request_id(self) -> str | None: ...
    @property
    def endpoint(self) -> str | None: ...
    @property
    def rate_limited(self) -> bool | None: ...
    @property
    def custom_cost(self) -> bool | None: ...
    @property
    def cache_reference_id(self) -> str | None: ...
    @property
    def cost_breakdown(self) -> dict[str, Decimal]: ...
    @property
    def extra(self) -> dict[str, Any]: ...
    def to_dict(self) -> dict[str, Any]: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __reduce__(self) -> tuple[Any, tuple[str]]: ...
    @classmethod
    def _from_state(cls, state: str) -> UsageRecord: ...

def extract_usage(
    obj: _Record,
    provider: str | None = None,
    format: str | None = None,
    model: str | None = None,
    at: _Instant = None,
    mapping: Mapping[str, Any] | None = None,
) -> UsageRecord: ...
def extract_usages(
    records: Any,
    provider: str | None = None,
    format: str | None = None,
    model: str | None = None,
    at: _Instant = None,
    mapping: Mapping[str, Any] | None = None,
    num_threads: int | None = None,
    labels: list[str] | None = None,
    approximate: bool = False,
) -> ArrowTable: ...
def usage_formats() -> list[tuple[str, str]]: ...
def formats() -> list[str]: ...
def log_columns() -> tuple[list[str], list[str]]: ...
def reconcile_lines(
    lines: Any, rejects: Any, *, book: PriceBook | None = None, absolute: str, relative: str
) -> tuple[ArrowTable, int, str, str, list[tuple[str, int, str]]]: ...
def reprice_lines(
    lines: Any,
    *,
    book: PriceBook | None = None,
    model_map: Mapping[str, str] | None = None,
    service_tier: str | None = None,
    at: _Instant = None,
    without_cache: bool = False,
) -> ArrowTable: ...
def price_log_files(
    paths: list[str],
    options: Mapping[str, Any],
    *,
    spill: bool | None = None,
    spill_dir: str | None = None,
    progress: Callable[[str, int, int, int], object] | None = None,
    totals_by: list[str] | None = None,
    period: str | None = None,
    tz: str = "UTC",
    max_line_bytes: int | None = None,
    ranges: list[tuple[int, int]] | None = None,
    objects: Iterable[tuple[str, Any]] | None = None,
    pages: Callable[[], Any] | None = None,
    key: str | None = None,
) -> tuple[ArrowTable, ArrowTable, int, list[str], ArrowTable | None, str | None]: ...
def price_log_texts(
    texts: list[str | None],
    options: Mapping[str, Any],
    *,
    source: str = "table",
) -> tuple[ArrowTable, ArrowTable, int]: ...
def total_log_texts(
    texts: list[str | None],
    options: Mapping[str, Any],
    *,
    totals_by: list[str],
    period: str | None = None,
    tz: str = "UTC",
    source: str = "table",
) -> tuple[ArrowTable, ArrowTable, int]: ...

"""tokenprice: exact LLM token counting and pricing from a Rust engine.

Counting::

    import tokenprice
    tokenprice.count_tokens("Hello, world!", model="gpt-4o")          # 4
    tokenprice.count_tokens(["a", "b c", None], model="gpt-4o")       # [1, 2, None]
    tokenprice.count_tokens(df["prompt"], model="gpt-4.1-mini")       # a column of the same kind, index kept
    enc = tokenprice.get_encoding("cl100k_base")                      # tiktoken-compatible Encoding

Pricing::

    usage = tokenprice.Usage(input_tokens=2422, cache_read_tokens=2304, output_tokens=120)
    cost = tokenprice.price(usage, model="gpt-4o", at="2025-03-01")   # Cost: .total is a Decimal
    print(cost.explain())
    priced = tokenprice.price_table(df)                               # every row, at its own timestamp

Reading usage from responses and logs::

    record = tokenprice.extract_usage(response)                       # OpenAI, Anthropic, Gemini, Bedrock, gateways
    cost = tokenprice.price(record)                                   # served model, tier, parts, cache hits
    table = tokenprice.extract_usages(log_lines)                      # many at once, as a pyarrow.Table

In a service (docs/service.md)::

    cost = tokenprice.price(response)                                 # an SDK response, dict or JSON
    with tokenprice.labels(tenant="acme", feature="search"):          # contextvars: follows asyncio tasks
        est = tokenprice.estimate(request)                            # before sending: .low / .high Costs
    tokenprice.instrument(client, tokenprice.JsonlSink("logs/"))      # every call priced, labelled, logged

Scaling out (Spark, Dask, Ray: ``tokenprice.spark``, ``.dask``, ``.ray``, imported only when used) on one Arrow
layer::

    batch = tokenprice.price_log_batch(lines, labels=["tenant"])       # a RecordBatch of log_schema(["tenant"])
    partial = tokenprice.summarize(batch, "tenant")                   # exact partial sums, rejects by reason
    totals, rejects = tokenprice.merge(partials, "tenant")            # == price_logs(...).summary("tenant")
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from tokenprice._core import (
    APPROXIMATION_ENCODING,
    AmbiguousModelError,
    BudgetStoreError,
    Cost,
    DisallowedSpecialTokenError,
    Encoding,
    Estimate,
    InputError,
    InternalError,
    InvalidArgumentError,
    InvalidMessageError,
    InvalidTextError,
    InvalidTokenError,
    InvalidTypeError,
    InvalidUsageError,
    NoPriceError,
    PriceBook,
    PriceBookError,
    StreamCounter,
    TokenizerFileError,
    TokenizerNotPublicError,
    TokenPriceError,
    UnknownEncodingError,
    UnknownModelError,
    UnknownProviderError,
    Usage,
    UsageFormatError,
    UsageRecord,
    __version__,
    count_file,
    encoding_for_model,
    encoding_name_for_model,
    estimate,
    extract_usage,
    get_encoding,
    image_tokens,
    list_encoding_names,
    price,
    usage_formats,
)
from tokenprice._count import ApproximateCount, ApproximationWarning, count_message_tokens, count_tokens
from tokenprice._extract import extract_usages
from tokenprice._pricing import price_table

if TYPE_CHECKING:  # what type checkers and editors see; at run time these load on first use (__getattr__ below)
    from tokenprice import sources as sources
    from tokenprice._batches import (
        log_schema,
        merge,
        price_log_batch,
        price_table_batch,
        price_table_schema,
        split_rejects,
        summarize,
        summarize_log_batch,
    )
    from tokenprice._budget import Budget, Decision, MemoryStore, RateLimit, RedisStore
    from tokenprice._calls import PricedCall, price_call
    from tokenprice._instrument import instrument, last_call
    from tokenprice._labels import labels
    from tokenprice._ledger import PricedLogs, price_logs
    from tokenprice._sinks import JsonlSink, OpenTelemetrySink

# The service's and the engines' parts (budgets, instrument and its sinks, the Arrow layer, the log sources: where
# the logs are kept, `tokenprice.sources.cloudflare(...)`) and the logs' (`price_logs` and its displays: a fifth
# of the import's time) load when first named, so `import tokenprice` costs what counting and pricing need
# (PEP 562). Name -> the module that defines it.
_LAZY = {
    "sources": "tokenprice.sources",
    **dict.fromkeys(
        [
            "log_schema",
            "merge",
            "price_log_batch",
            "price_table_batch",
            "price_table_schema",
            "split_rejects",
            "summarize",
            "summarize_log_batch",
        ],
        "tokenprice._batches",
    ),
    **dict.fromkeys(["Budget", "Decision", "MemoryStore", "RateLimit", "RedisStore"], "tokenprice._budget"),
    **dict.fromkeys(["PricedCall", "price_call"], "tokenprice._calls"),
    **dict.fromkeys(["instrument", "last_call"], "tokenprice._instrument"),
    "labels": "tokenprice._labels",
    **dict.fromkeys(["PricedLogs", "price_logs"], "tokenprice._ledger"),
    **dict.fromkeys(["JsonlSink", "OpenTelemetrySink"], "tokenprice._sinks"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tokenprice' has no attribute {name!r}")
    loaded = importlib.import_module(module)
    value = loaded if name == "sources" else getattr(loaded, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


# In Jupyter, the Arrow tables tokenprice returns (summaries, reprice, savings) show as tables a person reads; the
# displays load only where IPython runs.
if "IPython" in sys.modules:
    from tokenprice._display import register_notebook_formatter

    register_notebook_formatter()

__all__ = [
    "APPROXIMATION_ENCODING",
    "AmbiguousModelError",
    "Cost",
    "InvalidUsageError",
    "NoPriceError",
    "PriceBook",
    "PriceBookError",
    "UnknownProviderError",
    "Usage",
    "price",
    "price_table",
    "UsageFormatError",
    "UsageRecord",
    "extract_usage",
    "extract_usages",
    "PricedLogs",
    "price_logs",
    "usage_formats",
    "log_schema",
    "price_log_batch",
    "price_table_schema",
    "price_table_batch",
    "split_rejects",
    "summarize",
    "summarize_log_batch",
    "merge",
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
    "InvalidTypeError",
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
    "Estimate",
    "estimate",
    "labels",
    "PricedCall",
    "price_call",
    "instrument",
    "last_call",
    "JsonlSink",
    "OpenTelemetrySink",
    "Budget",
    "BudgetStoreError",
    "Decision",
    "MemoryStore",
    "RedisStore",
    "RateLimit",
]

"""One priced call with its labels: what `price_call` returns, what `instrument` hands to a sink, and the line the
JSON Lines sink writes (the `tokenprice` format, which `price_logs` reads back)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tokenprice import _core
from tokenprice._core import Cost, PriceBook, Usage, UsageRecord
from tokenprice._labels import LabelValue, current_labels

# The version of the line schema (docs/service.md); the reader is `src/usage/formats/tokenprice.rs`.
LINE_SCHEMA = 1

Sink = Callable[["PricedCall"], object]


@dataclass(frozen=True)
class PricedCall:
    """A call and its cost: the usage read from the response (or counted), the cost, the labels in force.

    ``counted`` is True when the response reported no usage (a stream without its usage chunk) and the tokens
    were counted from the request and the streamed text; ``approximate`` when that count used another tokenizer.
    """

    cost: Cost
    usage: Usage
    labels: Mapping[str, LabelValue]
    timestamp: dt.datetime
    record: UsageRecord | None = None
    duration_ms: Decimal | None = None
    endpoint: str | None = None
    counted: bool = False
    approximate: bool = False
    error: str | None = field(default=None)

    @property
    def total(self) -> Decimal:
        return self.cost.total

    def to_line(self) -> dict[str, Any]:
        """The JSON Lines sink's line for this call (schema ``tokenprice`` 1, docs/service.md): counts by the price
        book's rule, the model and provider priced, the labels, and the cost as exact decimal text."""
        usage = {k: v for k, v in self.usage.to_dict().items() if v and not (k == "requests" and v == 1)}
        line: dict[str, Any] = {
            "tokenprice": LINE_SCHEMA,
            "timestamp": self.timestamp.isoformat().replace("+00:00", "Z"),
            "provider": self.cost.provider,
            "model": self.cost.model,
            "usage": usage,
            "cost": str(self.cost.total),
            "labels": dict(self.labels),
        }
        if self.cost.service_tier != "standard":
            line["service_tier"] = self.cost.service_tier
        if self.cost.region is not None:
            line["region"] = self.cost.region
        if self.record is not None:
            parts = self.record.parts
            if parts:
                line["parts"] = [{"model": m, "usage": {k: v for k, v in u.to_dict().items() if v}} for m, u in parts]
            if self.record.id is not None:
                line["id"] = self.record.id
        if self.duration_ms is not None:
            line["duration_ms"] = str(self.duration_ms)
        if self.endpoint is not None:
            line["endpoint"] = self.endpoint
        if self.counted:
            line["counted"] = True
        if self.approximate:
            line["approximate"] = True
        return line


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def price_call(
    response: Any,
    *,
    model: str | None = None,
    provider: str | None = None,
    at: dt.datetime | None = None,
    service_tier: str | None = None,
    book: PriceBook | None = None,
    region: str | None = None,
    labels: Mapping[str, LabelValue] | None = None,
    sink: Sink | None = None,
    duration_ms: Decimal | None = None,
    endpoint: str | None = None,
) -> PricedCall:
    """Prices the response of a call that just returned (an SDK object, a dict, JSON text or a list of stream
    chunks; read as ``extract_usage`` reads it) with the labels in force (``labels=`` adds to them), and hands
    the result to ``sink`` when one is given.

    The timestamp is now (or ``at``), and the call is priced at that instant, so its line prices back to the same
    cost.
    """
    when = at if at is not None else _now()
    record = _core.extract_usage(response, model=model)
    if not record.has_usage and record.status == "ok":
        raise _core.UsageFormatError(
            f"the {record.format} response reports no usage, so it cannot be priced (a stream needs its final "
            'usage chunk: stream_options={"include_usage": true} for OpenAI chat)'
        )
    cost = _core.price(record, provider=provider, at=when, service_tier=service_tier, book=book, region=region)
    merged = dict(current_labels())
    if labels:
        merged.update(labels)
    call = PricedCall(
        cost=cost,
        usage=record.usage,
        labels=merged,
        timestamp=when,
        record=record,
        duration_ms=duration_ms,
        endpoint=endpoint,
    )
    if sink is not None:
        sink(call)
    return call

"""Every keyword of the public pricing and counting functions reaches the core: changing it changes the answer
(or is refused with an error naming it). A keyword the binding dropped on the way would fail here."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

import tokenprice
from tokenprice import PriceBook, Usage, price

ACME = {
    "schema": 1,
    "id": "acme",
    "owns": [{"starts_with": "acme-"}],
    "service_tiers": {"batch": {"multiplier": "0.5"}},
    "regions": {"eu": {"multiplier": "1.1"}},
    "models": [
        {
            "id": "acme-1",
            "prices": [
                {"input_per_mtok": "1", "output_per_mtok": "2"},
                {"from": "2026-01-01", "input_per_mtok": "3", "output_per_mtok": "4"},
            ],
        },
        {"id": "acme-2", "prices": [{"input_per_mtok": "10", "output_per_mtok": "20"}]},
    ],
}
OTHER = {
    "schema": 1,
    "id": "other",
    "owns": [{"starts_with": "other-"}],
    "models": [{"id": "acme-1", "prices": [{"input_per_mtok": "7", "output_per_mtok": "7"}]}],
}
BOOK = PriceBook.from_dicts([ACME, OTHER])
USAGE = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
AT = "2025-06-01"


def total(**kwargs: object) -> Decimal:
    args: dict[str, object] = {"model": "acme-1", "provider": "acme", "at": AT, "book": BOOK, **kwargs}
    return price(USAGE, **args).total  # type: ignore[arg-type]


def test_price_keywords_reach_the_core() -> None:
    assert total() == Decimal(3)
    assert total(model="acme-2") == Decimal(30)
    assert total(provider="other") == Decimal(14)
    assert total(at="2026-02-01") == Decimal(7)
    assert total(service_tier="batch") == Decimal("1.5")
    assert total(region="eu") == Decimal("3.3")
    with pytest.raises(tokenprice.UnknownProviderError, match="acme"):
        total(book=PriceBook.default())  # the default book has no provider acme


def test_price_reads_its_arguments_as_python_does() -> None:
    """``price`` reads its arguments itself (CPython's vectorcall, no dict built per call): every usage field is a
    keyword count, a misspelled one is refused naming it, and the usual errors of a Python function hold."""
    import inspect

    parameters = inspect.signature(price).parameters
    assert list(parameters)[:7] == ["usage", "model", "provider", "at", "service_tier", "book", "region"]
    assert parameters["counts"].kind is inspect.Parameter.VAR_KEYWORD

    def outcome(call: Callable[[], tokenprice.Cost]) -> tuple[object, ...]:
        try:
            cost = call()
        except tokenprice.TokenPriceError as e:
            return (type(e), str(e))
        return (cost.total, cost.explain())

    for field in Usage().to_dict():
        counts = {field: 3, "input_tokens": 5} if field != "input_tokens" else {field: 3}
        by_keyword = outcome(lambda: price(model="gpt-4o", at=AT, **counts))  # noqa: B023
        assert by_keyword == outcome(lambda: price(Usage(**counts), model="gpt-4o", at=AT)), field  # noqa: B023
    assert price(USAGE, "acme-1", "acme", AT, None, BOOK, "eu").total == Decimal("3.3")  # all seven by position
    with pytest.raises(tokenprice.InvalidUsageError, match="input_tokenz"):
        price(model="gpt-4o", at=AT, input_tokenz=3)
    with pytest.raises(TypeError, match="multiple values for argument 'model'"):
        price(USAGE, "gpt-4o", model="gpt-4o")  # type: ignore[misc]
    with pytest.raises(TypeError, match="at most 7 positional"):
        price(USAGE, "gpt-4o", None, AT, None, None, None, 8)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="book must be a PriceBook, not str"):
        price(USAGE, model="gpt-4o", book="acme")  # type: ignore[arg-type]
    with pytest.raises(tokenprice.InvalidTypeError, match="input_tokens"):
        price(model="gpt-4o", input_tokens="3")
    assert price.__module__ == "tokenprice._core" and price.__name__ == "price"


def test_price_keywords_reach_the_core_for_a_record() -> None:
    record = tokenprice.extract_usage(
        {"model": "acme-1", "usage": {"prompt_tokens": 1_000_000, "completion_tokens": 1_000_000}}
    )

    def record_total(**kwargs: object) -> Decimal:
        args: dict[str, object] = {"provider": "acme", "at": AT, "book": BOOK, **kwargs}
        return price(record, **args).total  # type: ignore[arg-type]

    assert record_total() == Decimal(3)
    assert record_total(model="acme-2") == Decimal(30)
    assert record_total(provider="other") == Decimal(14)
    assert record_total(at="2026-02-01") == Decimal(7)
    assert record_total(service_tier="batch") == Decimal("1.5")
    # The region was dropped for records before: priced at the home rate.
    assert record_total(region="eu") == Decimal("3.3")
    with pytest.raises(tokenprice.InvalidArgumentError, match="mars"):
        record_total(region="mars")


def test_price_table_keywords_reach_the_core() -> None:
    table = pa.table(
        {
            "m": ["acme-1"],
            "when": [date(2025, 6, 1)],
            "vendor": ["acme"],
            "tier": ["batch"],
            "zone": ["eu"],
            "hit": [False],
            "prompt": [1_000_000],
            "output_tokens": [1_000_000],
        }
    )

    def run(data: pa.Table = table, **kwargs: object) -> pa.Table:
        args: dict[str, object] = {
            "book": BOOK,
            "model": "m",
            "timestamp": "when",
            "provider": "vendor",
            "columns": {"input_tokens": "prompt"},
            "keep_columns": False,
            **kwargs,
        }
        return tokenprice.price_table(data, **args)  # type: ignore[arg-type]

    def cost(**kwargs: object) -> object:
        return run(**kwargs).column("total_cost")[0].as_py()

    assert cost() == Decimal(3)
    assert cost(service_tier="tier") == Decimal("1.5")
    assert cost(region="zone") == Decimal("3.3")
    assert cost(cache_hit="hit") == Decimal(3)
    hit = pa.table({**{n: table.column(n) for n in table.column_names}, "hit": [True]})
    assert run(hit, cache_hit="hit").column("total_cost")[0].as_py() == 0
    assert cost(timestamp=None, default_at="2026-02-01") == Decimal(7)
    # The cache rule given is the one used (named "given"), not one detected from the column names.
    assert run(input_excludes_cache=True).schema.metadata[b"usage_convention"].startswith(b"given: ")
    assert not run().schema.metadata[b"usage_convention"].startswith(b"given: ")
    assert cost(as_float=True) == 3.0
    assert "input_cost" in run(itemized=True).column_names
    assert run(book=PriceBook.default()).column("status")[0].as_py() is not None
    with pytest.raises(tokenprice.InvalidArgumentError, match="thread"):
        cost(num_threads=0)
    with pytest.raises(tokenprice.InvalidArgumentError, match='no column "nope" \\(for model\\)'):
        cost(model="nope")
    with pytest.raises(tokenprice.InvalidArgumentError, match=r"\(for provider\)"):
        cost(provider="nope")
    kept = run(keep_columns=True)
    assert kept.column_names[: len(table.column_names)] == table.column_names


def test_price_book_keywords_reach_the_core() -> None:
    assert BOOK.resolve("acme-1", provider="other")["provider"] == "other"
    assert BOOK.price_at("acme-1", at="2026-02-01", provider="acme")["prices"]["input_per_mtok"] == Decimal(3)
    assert BOOK.price_at("acme-1", at=AT, provider="acme")["prices"]["input_per_mtok"] == Decimal(1)
    assert [m["model"] for m in BOOK.models(provider="other")] == ["acme-1"]


def test_counting_keywords_reach_the_core(tmp_path: Path) -> None:
    enc = tokenprice.get_encoding("cl100k_base")
    special = "<|endoftext|>"
    assert tokenprice.count_tokens(special, encoding="cl100k_base", allowed_special="all") == 1
    assert tokenprice.count_tokens(special, encoding="cl100k_base") == 7  # by default: counted as text
    assert tokenprice.count_tokens("hello world", model="gpt-4o") == tokenprice.count_tokens(
        "hello world", encoding="o200k_base"
    )
    with pytest.raises(tokenprice.InvalidArgumentError, match="thread"):
        tokenprice.count_tokens(["a", "b"], encoding="cl100k_base", num_threads=0)
    assert isinstance(
        tokenprice.count_tokens("hi", model="claude-sonnet-4-5", approximate=True), tokenprice.ApproximateCount
    )
    messages = [{"role": "user", "content": "hi"}]
    tools = [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {}}}]
    assert tokenprice.count_message_tokens(messages, "gpt-4o", tools=tools) > tokenprice.count_message_tokens(
        messages, "gpt-4o"
    )
    assert tokenprice.image_tokens(1024, 1024, "gpt-4o", detail="low") < tokenprice.image_tokens(
        1024, 1024, "gpt-4o", detail="high"
    )
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"hello \xff")
    with pytest.raises(tokenprice.InvalidTextError):
        tokenprice.count_file(bad, enc)
    assert tokenprice.count_file(bad, enc, errors="replace") == enc.count("hello \ufffd")
    with pytest.raises(tokenprice.InvalidArgumentError, match="thread"):
        tokenprice.count_file(bad, enc, errors="replace", num_threads=0)
    assert tokenprice.count_file(str(bad), encoding=enc, errors="replace", num_threads=1) == enc.count("hello \ufffd")
    stream = tokenprice.StreamCounter(enc, source="stdin", errors="strict", num_threads=1)
    stream.feed(b"hello \xff")
    with pytest.raises(tokenprice.InvalidTextError, match="stdin"):
        stream.finish()
    stream = tokenprice.StreamCounter(encoding=enc, errors="replace")
    stream.feed(b"hello \xff")
    assert stream.finish() == enc.count("hello \ufffd")


def test_loader_keywords_reach_the_core(tmp_path: Path) -> None:
    ranks = {bytes([b]): b for b in range(256)}
    pattern = r"\S+|\s+"
    enc = tokenprice.Encoding.from_ranks("bytes", mergeable_ranks=ranks, pattern=pattern, special_tokens={"<|x|>": 256})
    assert (enc.name, enc.pattern, enc.n_vocab) == ("bytes", pattern, 257)
    assert enc.encode("<|x|>", allowed_special="all") == [256]
    path = tmp_path / "bytes.tiktoken"
    path.write_text("".join(f"{base64.b64encode(b).decode()} {r}\n" for b, r in ranks.items()))
    loaded = tokenprice.Encoding.from_tiktoken_file(path, pattern=pattern, special_tokens=[("<|x|>", 256)], name="mine")
    assert (loaded.name, loaded.encode("ab <|x|>", allowed_special="all")) == ("mine", [97, 98, 32, 256])
    assert tokenprice.Encoding.from_tiktoken_file(str(path), pattern=pattern).name == "bytes"
    json_text = json.dumps(
        {
            "model": {"type": "WordLevel", "vocab": {"a": 0, "[UNK]": 1}, "unk_token": "[UNK]"},
            "pre_tokenizer": {"type": "Whitespace"},
        }
    )
    hf = tokenprice.Encoding.from_tokenizer_json_str(json_text, name="tiny")
    assert (hf.name, hf.kind, hf.count("a b a")) == ("tiny", "huggingface", 3)
    (tmp_path / "tokenizer.json").write_text(json_text)
    assert tokenprice.Encoding.from_tokenizer_json(tmp_path / "tokenizer.json", name="file").name == "file"

"""Python objects at the boundary: one converter for every argument read as data (paths in its errors, NaN
named, lone surrogates replaced), `UsageRecord` pickling, and no builtin exception from the reading functions."""

from __future__ import annotations

import json
import multiprocessing
import pickle
from decimal import Decimal
from typing import Any

import pytest

import tokenprice as tp

GATEWAY = {
    "id": "01J0",
    "created_at": "2025-01-01T02:52:42.929Z",
    "provider": "openai",
    "model": "gpt-4o",
    "success": True,
    "status_code": 200,
    "cached": False,
    "tokens_in": 13118,
    "tokens_out": 1194,
    "cost": 0.044735,
    "metadata": json.dumps({"tenant": "globex", "seats": 3, "ratio": 0.5, "beta": True}),
}
ANTHROPIC_ITERATIONS = {
    "type": "message",
    "model": "claude-sonnet-4-5",
    "usage": {
        "input_tokens": 100,
        "output_tokens": 50,
        "iterations": [{"input_tokens": 60, "output_tokens": 20}, {"input_tokens": 40, "output_tokens": 30}],
    },
}
NO_USAGE = {
    "Timestamp": "2025-06-01T09:00:00Z",
    "Provider": "openai",
    "Model": "gpt-4o",
    "StatusCode": 200,
    "RequestBody": json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
    "ResponseBody": json.dumps({"model": "gpt-4o", "choices": [{"message": {"content": "hello there"}}]}),
}


def _records() -> list[tp.UsageRecord]:
    records = [tp.extract_usage(GATEWAY), tp.extract_usage(ANTHROPIC_ITERATIONS)]
    failed = {**GATEWAY, "success": False, "status_code": 500, "tokens_in": None, "tokens_out": None}
    records.append(tp.extract_usage(failed))
    return records


def _round_trip(record: tp.UsageRecord) -> dict[str, Any]:
    return pickle.loads(pickle.dumps(record)).to_dict()


def test_a_usage_record_pickles_by_content() -> None:
    for record in _records():
        back = pickle.loads(pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL))
        assert back == record and back is not record
        assert back.to_dict() == record.to_dict()
    gateway = pickle.loads(pickle.dumps(_records()[0]))
    assert gateway.reported_cost == Decimal("0.044735")
    assert gateway.metadata == {"tenant": "globex", "seats": 3, "ratio": 0.5, "beta": True}
    assert [type(v) for v in gateway.metadata.values()] == [str, int, float, bool]
    assert tp.price(gateway).total == tp.price(_records()[0]).total


def test_records_compare_by_value() -> None:
    a, b, c = _records()
    assert a == tp.extract_usage(GATEWAY) and a != b and b != c and a != "a record"


def test_a_record_without_usage_keeps_its_text_through_a_pickle() -> None:
    record = tp.extract_usage(NO_USAGE)
    back = pickle.loads(pickle.dumps(record))
    assert back == record and not back.has_usage
    assert tp.price(back).total == tp.price(record).total


def test_a_bad_pickle_state_is_an_error() -> None:
    with pytest.raises(tp.InvalidArgumentError, match="UsageRecord state"):
        tp.UsageRecord._from_state('{"format": "nope"}')
    with pytest.raises(tp.InvalidArgumentError, match="UsageRecord state"):
        tp.UsageRecord._from_state("not json")


def test_usage_records_reach_spawned_workers() -> None:
    records = _records()
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        dicts = pool.map(_round_trip, records)
        echoed = pool.map(pickle.loads, [pickle.dumps(r) for r in records])
    assert dicts == [r.to_dict() for r in records]
    assert echoed == records


def test_conversion_errors_name_the_path() -> None:
    with pytest.raises(tp.InvalidTypeError, match=r"messages\[0\]\.content\[1\]: a value of type set"):
        tp.count_message_tokens([{"role": "user", "content": ["a", {1, 2}]}], "gpt-4o")
    with pytest.raises(tp.InvalidTypeError, match=r"obj\.usage: keys must be strings, found int 1"):
        tp.extract_usage({"model": "gpt-4o", "usage": {1: 2}})

    class Broken:
        def model_dump(self, **kw: Any) -> Any:
            raise RuntimeError("boom")

    with pytest.raises(tp.InvalidArgumentError, match=r"obj: model_dump\(\) raised RuntimeError\('boom'\)"):
        tp.extract_usage(Broken())
    # In a batch the item is a reject row naming its place; the others are read (issue 13: nothing is lost).
    table = tp.extract_usages([GATEWAY, Broken()])
    assert table.column("status").to_pylist() == ["ok", "rejected"]
    assert table.column("error").to_pylist()[1] == "records[1]: model_dump() raised RuntimeError('boom')"


def test_a_nan_count_is_a_reject_naming_the_field() -> None:
    record = {"model": "gpt-4o", "usage": {"prompt_tokens": float("nan"), "completion_tokens": 1}}
    with pytest.raises(tp.UsageFormatError, match=r"usage\.prompt_tokens: \"NaN\" is not a number"):
        tp.extract_usage(record)
    table = tp.extract_usages([record, {**record, "usage": {"prompt_tokens": float("inf")}}])
    assert table.column("status").to_pylist() == ["rejected", "rejected"]
    assert "prompt_tokens" in table.column("error")[1].as_py()


def test_a_frame_with_a_real_nan_rejects_it_and_reads_nulls_as_nulls() -> None:
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    rows = [GATEWAY, {**GATEWAY, "success": False, "status_code": 500, "tokens_in": None, "tokens_out": None}]
    frame = pd.DataFrame(rows)
    assert frame["tokens_in"].isna().tolist() == [False, True]
    assert tp.extract_usages(frame).column("status").to_pylist() == ["ok", "error"]
    arrow_backed = frame.copy()
    # A NaN that is a value, not a null (pyarrow-backed columns keep the two apart).
    nan_and_null = pa.array([float("nan"), None], type=pa.float64(), from_pandas=False)
    arrow_backed["tokens_in"] = pd.Series(pd.arrays.ArrowExtensionArray(nan_and_null))
    assert arrow_backed["tokens_in"].isna().tolist() == [False, True]
    table = tp.extract_usages(arrow_backed)
    assert table.column("status").to_pylist() == ["rejected", "error"]
    assert "tokens_in" in table.column("error")[0].as_py()


def _hostile_values() -> list[Any]:
    return [object(), 1.5, -1, 2**70, b"\xff", "\ud800", {1: 2}, [object()], {"a": {1, 2}}, float("nan")]


_FUNCTIONS = {
    "extract_usage(obj)": lambda v: tp.extract_usage(v),
    "extract_usage(provider)": lambda v: tp.extract_usage(GATEWAY, provider=v),
    "extract_usage(format)": lambda v: tp.extract_usage(GATEWAY, format=v),
    "extract_usage(model)": lambda v: tp.extract_usage(GATEWAY, model=v),
    "extract_usage(at)": lambda v: tp.extract_usage(GATEWAY, at=v),
    "extract_usage(mapping)": lambda v: tp.extract_usage(GATEWAY, mapping=v),
    "extract_usage(mapping value)": lambda v: tp.extract_usage(GATEWAY, mapping={"model": v}),
    "extract_usage(mapping metadata)": lambda v: tp.extract_usage(GATEWAY, mapping={"metadata": v}),
    "extract_usage(input_excludes_cache)": lambda v: tp.extract_usage(GATEWAY, mapping={"input_excludes_cache": v}),
    "extract_usages(records)": lambda v: tp.extract_usages(v),
    "extract_usages(item)": lambda v: tp.extract_usages([GATEWAY, v]),
    "extract_usages(provider)": lambda v: tp.extract_usages([GATEWAY], provider=v),
    "extract_usages(format)": lambda v: tp.extract_usages([GATEWAY], format=v),
    "extract_usages(model)": lambda v: tp.extract_usages([GATEWAY], model=v),
    "extract_usages(at)": lambda v: tp.extract_usages([GATEWAY], at=v),
    "extract_usages(mapping)": lambda v: tp.extract_usages([GATEWAY], mapping=v),
    "extract_usages(num_threads)": lambda v: tp.extract_usages([GATEWAY], num_threads=v),
    "count_message_tokens(messages)": lambda v: tp.count_message_tokens(v, "gpt-4o"),
    "count_message_tokens(message)": lambda v: tp.count_message_tokens([v], "gpt-4o"),
    "count_message_tokens(content)": lambda v: tp.count_message_tokens([{"role": "user", "content": v}], "gpt-4o"),
    "count_message_tokens(model)": lambda v: tp.count_message_tokens([{"role": "user", "content": "hi"}], v),
    "count_message_tokens(tools)": lambda v: tp.count_message_tokens([{"role": "user", "content": "hi"}], "gpt-4o", v),
    "from_dicts(providers)": lambda v: tp.PriceBook.from_dicts([v]),
}


@pytest.mark.parametrize("name", list(_FUNCTIONS))
def test_hostile_arguments_raise_token_price_errors(name: str) -> None:
    call = _FUNCTIONS[name]
    for value in _hostile_values():
        try:
            result = call(value)
        except tp.TokenPriceError:
            continue
        except Exception as e:  # noqa: BLE001 - the test's point: nothing else escapes
            pytest.fail(f"{name} with {value!r} raised {type(e).__name__}: {e}")
        # Accepted values must have been read as something sensible (a str surrogate becomes U+FFFD).
        assert result is not None or name.startswith("count"), (name, value)


def test_usage_formats_takes_no_arguments_and_lists_generic() -> None:
    names = [n for n, _ in tp.usage_formats()]
    assert "generic" in names and "openai_chat" in names

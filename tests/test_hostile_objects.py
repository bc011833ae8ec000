"""Hostile Python objects and JSON text, each run in a child process (a crash or a hang fails the case): cycles,
deep nesting, `model_dump()` that loops, lone surrogates, empty pages, NaN from pandas, pickling."""

from __future__ import annotations

import pytest

from hostile import run_case

# Builds the hostile value `bad` (first line of a case), makes the call, and prints what was raised as JSON.
_REPORT = """
import json, tokenprice as tp
{build}
try:
    result = {call}
    print(json.dumps({{"raised": None, "result": repr(result)[:200]}}))
except Exception as e:
    print(json.dumps({{"raised": type(e).__name__, "token_price_error": isinstance(e, tp.TokenPriceError),
                       "message": str(e)[:300]}}))
"""

_CYCLES = {
    "dict_holding_itself": "bad = {'model': 'gpt-4o'}; bad['self'] = bad",
    "list_holding_itself": "inner = []; inner.append(inner); bad = {'model': 'gpt-4o', 'choices': inner}",
    "deep_dicts": "bad = {}\nfor _ in range(100_000): bad = {'a': bad}",
    "deep_lists": "bad = []\nfor _ in range(100_000): bad = [bad]\nbad = {'choices': bad}",
    "model_dump_returns_itself": "class M:\n    def model_dump(self, **kw): return self\nbad = M()",
    "model_dump_recurses_forever": "class M:\n    def model_dump(self, **kw): return {'usage': M()}\nbad = M()",
    "model_dump_returns_a_new_dumper": "class M:\n    def model_dump(self, **kw): return M()\nbad = M()",
}

_CALLS = {
    "extract_usage": "tp.extract_usage(bad)",
    "count_message_tokens": "tp.count_message_tokens([{'role': 'user', 'content': bad}], 'gpt-4o')",
    "from_dicts": "tp.PriceBook.from_dicts([bad])",
    "with_overrides": "tp.PriceBook.default().with_overrides({'providers': [bad]})",
}


@pytest.mark.parametrize("call", list(_CALLS))
@pytest.mark.parametrize("shape", list(_CYCLES))
def test_cycles_and_deep_nesting_are_errors_naming_the_path(shape: str, call: str) -> None:
    out = run_case(_REPORT.format(build=_CYCLES[shape], call=_CALLS[call])).json()
    assert isinstance(out, dict)
    assert out["raised"] == "InvalidArgumentError" and out["token_price_error"], out
    message = out["message"]
    assert ("a cycle" in message) or ("nested more than 256 levels deep" in message), message
    # The path names the argument the value was found in.
    assert message.split(":")[0].split(".")[0].split("[")[0] in {"obj", "records", "messages", "providers", "overrides"}


@pytest.mark.parametrize(
    "text",
    [
        "'[' * 100_000",
        "'{\"a\":' * 100_000",
        "'{\"model\": \"gpt-4o\", \"usage\": ' + '[' * 100_000 + ']' * 100_000 + '}'",
        "'{\"model\": \"gpt-4o\", \"metadata\": ' + '{\"a\":' * 100_000 + '1' + '}' * 100_000 + '}'",
    ],
)
def test_deeply_nested_json_text_is_a_reject_not_a_crash(text: str) -> None:
    one = run_case(_REPORT.format(build=f"bad = {text}", call="tp.extract_usage(bad)")).json()
    assert isinstance(one, dict) and one["raised"] == "UsageFormatError", one
    many = run_case(
        _REPORT.format(build=f"bad = {text}", call="tp.extract_usages([bad, bad.encode()]).column('error').to_pylist()")
    ).json()
    assert isinstance(many, dict) and many["raised"] is None, many
    assert "nesting too deep" in many["result"] or "not valid JSON" in many["result"], many


def test_lone_surrogates_read_as_replacement_characters() -> None:
    code = """
    import json, tokenprice as tp
    usage = {'prompt_tokens': 3, 'completion_tokens': 1}
    as_dict = tp.extract_usage({'model': 'gpt-4o', 'id': 'a\\ud800b', 'usage': usage})
    as_escape = tp.extract_usage(json.dumps({'model': 'gpt-4o', 'id': 'a\\ud800b', 'usage': usage}))
    table = tp.extract_usages(['{"model": "gpt-4o", "id": "a\\ud800b", "usage": {"prompt_tokens": 3}}'])
    print(json.dumps([as_dict.id, as_escape.id, table.column('id').to_pylist()[0], tp.extract_usage(
        {'model': 'gpt-4o', 'usage': usage}, model='x\\udfff').model]))
    """
    ids = run_case(code).json()
    assert ids == ["a\ufffdb", "a\ufffdb", "a\ufffdb", "gpt-4o"], ids


@pytest.mark.parametrize("shape", [*_CYCLES, "not_data", "lone_surrogates", "model_dump_raises", "key_not_a_string"])
def test_one_unreadable_item_is_a_reject_row_and_the_others_are_read(shape: str) -> None:
    build = {
        **_CYCLES,
        "not_data": "bad = object()",
        "lone_surrogates": "bad = {'model': 'gpt-4o\\ud800', 'usage': {'prompt_tokens': 5}}",
        "model_dump_raises": "class M:\n    def model_dump(self, **kw): raise ValueError('no')\nbad = M()",
        "key_not_a_string": "bad = {'model': 'gpt-4o', 1: 2}",
    }[shape]
    code = f"""
import json, tokenprice as tp
{build}
good = {{'model': 'gpt-4o', 'usage': {{'prompt_tokens': 5, 'completion_tokens': 1}}}}
t = tp.extract_usages([good, bad, '{{"usage": {{"prompt_tokens": 7}}}}', bad, good])
print(json.dumps([t.num_rows, t.column('source_index').to_pylist(), t.column('status').to_pylist(),
                  t.column('error').to_pylist(), t.column('input_tokens').to_pylist()]))
"""
    rows, sources, statuses, errors, inputs = run_case(code).json()  # type: ignore[misc]
    assert rows == 5 and sources == [0, 1, 2, 3, 4], (rows, sources)
    assert [statuses[i] for i in (0, 2, 4)] == ["ok"] * 3 and [inputs[i] for i in (0, 2, 4)] == [5, 7, 5], statuses
    if shape == "lone_surrogates":  # read as U+FFFD, as tiktoken reads it: not a reject
        assert statuses[1] == statuses[3] == "ok", errors
        return
    assert statuses[1] == statuses[3] == "rejected", statuses
    assert errors[1].startswith("records[1]") and errors[3].startswith("records[3]"), errors
    # The single-record reader still raises on the same item.
    one = run_case(_REPORT.format(build=build, call="tp.extract_usage(bad)")).json()
    assert isinstance(one, dict) and one["token_price_error"], one


@pytest.mark.parametrize("call", ["tp.extract_usages([{'model': 'gpt-4o'}, M()])", "tp.extract_usage(M())"])
def test_an_interrupt_while_converting_an_item_is_not_a_reject(call: str) -> None:
    """An interrupt inside `model_dump()` stops the call as a KeyboardInterrupt, in the batch and the single reader."""
    code = f"""
    import json, tokenprice as tp
    class M:
        def model_dump(self, **kw): raise KeyboardInterrupt
    try:
        {call}
        print(json.dumps("returned"))
    except KeyboardInterrupt:
        print(json.dumps("interrupted"))
    except tp.TokenPriceError as e:
        print(json.dumps(type(e).__name__))
    """
    assert run_case(code).json() == "interrupted"


def test_an_empty_page_is_a_reject_as_in_price_logs() -> None:
    code = """
    import json, tokenprice as tp
    t = tp.extract_usages([{'success': True, 'result': []}, [], '[]', {'model': 'gpt-4o', 'usage': {}}])
    print(json.dumps([t.num_rows, t.column('source_index').to_pylist(), t.column('status').to_pylist()]))
    """
    rows, sources, statuses = run_case(code).json()  # type: ignore[misc]
    assert rows == 4 and sources == [0, 1, 2, 3], (rows, sources)
    assert statuses[:3] == ["rejected"] * 3, statuses


def test_a_pandas_frame_reads_like_the_file() -> None:
    code = """
    import json, pandas as pd, tokenprice as tp
    rows = [{'id': 'a', 'created_at': '2025-01-01T02:52:42Z', 'provider': 'openai', 'model': 'gpt-4o',
             'success': False, 'status_code': 500, 'cached': False, 'tokens_in': None, 'tokens_out': None},
            {'id': 'b', 'created_at': '2025-01-01T02:52:42Z', 'provider': 'openai', 'model': 'gpt-4o',
             'success': True, 'status_code': 200, 'cached': False, 'tokens_in': 10, 'tokens_out': 5}]
    frame = tp.extract_usages(pd.DataFrame(rows)).select(['status', 'error', 'input_tokens']).to_pylist()
    mixed = tp.extract_usages(pd.DataFrame({'x': [1, 'a', {'b': 1}]})).column('status').to_pylist()
    print(json.dumps([frame, tp.extract_usages(rows).select(['status', 'error', 'input_tokens']).to_pylist(), mixed]))
    """
    frame, listed, mixed = run_case(code).json()  # type: ignore[misc]
    assert frame == listed and [r["status"] for r in frame] == ["error", "ok"], (frame, listed)
    assert mixed == ["rejected"] * 3


def test_a_usage_record_pickles() -> None:
    code = """
    import json, pickle, tokenprice as tp
    r = tp.extract_usage({'model': 'gpt-4o', 'usage': {'prompt_tokens': 3, 'completion_tokens': 1}})
    print(json.dumps(pickle.loads(pickle.dumps(r)) == r))
    """
    assert run_case(code).json() is True

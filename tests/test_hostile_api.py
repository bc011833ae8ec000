"""Every public function, given a wrong value for one argument at a time, raises a TokenPriceError or succeeds.

A builtin exception (TypeError, OverflowError, UnicodeEncodeError, decimal.InvalidOperation, ArrowTypeError, ...)
escaping the API is a bug: users catch `tokenprice.TokenPriceError`. Each function is tried in its own child process
(`tests/hostile.py`), so a crash or a hang fails that function's case instead of the whole run.
"""

from __future__ import annotations

import pytest

from hostile import run_case

# name → (call expression with {arg} placeholders filled from `base`, base arguments as Python source).
# The child substitutes each hostile value for one argument at a time.
TARGETS: dict[str, tuple[str, dict[str, str]]] = {
    "count_tokens": ("t.count_tokens", {"data": "'hi'", "model": "'gpt-4o'", "num_threads": "None"}),
    "count_tokens_encoding": ("t.count_tokens", {"data": "['a', 'b']", "encoding": "'cl100k_base'"}),
    "get_encoding": ("t.get_encoding", {"name": "'cl100k_base'"}),
    "encoding_for_model": ("t.encoding_for_model", {"model": "'gpt-4o'"}),
    "encoding_name_for_model": ("t.encoding_name_for_model", {"model": "'gpt-4o'"}),
    "encode": ("t.get_encoding('o200k_base').encode", {"text": "'hi'", "allowed_special": "'all'"}),
    "encode_ordinary": ("t.get_encoding('o200k_base').encode_ordinary", {"text": "'hi'"}),
    "encode_batch": ("t.get_encoding('o200k_base').encode_batch", {"texts": "['a', 'b']", "num_threads": "1"}),
    "decode": ("t.get_encoding('o200k_base').decode", {"tokens": "[1, 2]", "errors": "'replace'"}),
    "decode_single_token_bytes": ("t.get_encoding('o200k_base').decode_single_token_bytes", {"token": "5"}),
    "count": ("t.get_encoding('o200k_base').count", {"text": "'hi there'", "num_threads": "1"}),
    "count_batch": ("t.get_encoding('o200k_base').count_batch", {"texts": "['a', 'b']", "num_threads": "2"}),
    "count_till_limit": ("t.get_encoding('o200k_base').count_till_limit", {"text": "'hi there'", "limit": "10"}),
    "count_message_tokens": (
        "t.count_message_tokens",
        {"messages": "[{'role': 'user', 'content': 'hi'}]", "model": "'gpt-4o'"},
    ),
    "image_tokens": ("t.image_tokens", {"width": "512", "height": "512", "model": "'gpt-4o'", "detail": "'high'"}),
    "usage": ("t.Usage", {"input_tokens": "10", "output_tokens": "5", "cache_read_tokens": "2"}),
    "price": (
        "t.price",
        {"usage": "t.Usage(input_tokens=10, output_tokens=5)", "model": "'gpt-4o'", "at": "'2025-03-01'"},
    ),
    "price_at": ("t.PriceBook.default().price_at", {"model": "'gpt-4o'", "at": "'2025-03-01'"}),
    "resolve": ("t.PriceBook.default().resolve", {"model": "'gpt-4o'", "provider": "None"}),
    "with_overrides": ("t.PriceBook.default().with_overrides", {"overrides": "{'discounts': {'openai': '0.8'}}"}),
    "from_dicts": ("t.PriceBook.from_dicts", {"providers": "[]"}),
    "from_path": ("t.PriceBook.from_path", {"path": "'prices/openai.toml'"}),
    "with_overrides_path": ("t.PriceBook.default().with_overrides", {"overrides": "OVERRIDES"}),
    "extract_usage": (
        "t.extract_usage",
        {"obj": "{'model': 'gpt-4o', 'usage': {'prompt_tokens': 5, 'completion_tokens': 1}}", "at": "'2025-03-01'"},
    ),
    "extract_usages": (
        "t.extract_usages",
        {"records": '[\'{"usage": {"prompt_tokens": 5}}\']', "num_threads": "1"},
    ),
    "price_table": (
        "t.price_table",
        {
            "data": "pa.table({'model': ['gpt-4o'], 'input_tokens': [10], 'output_tokens': [5]})",
            "default_at": "'2025-03-01'",
            "num_threads": "1",
        },
    ),
    "price_logs": (
        "t.price_logs",
        {"source": "'examples/logs/gateway.jsonl.gz'", "num_threads": "1", "progress": "None"},
    ),
    "summary": ("LOGS.summary", {"by": "'tenant'", "period": "'month'", "tz": "'UTC'"}),
    "reconcile": ("LOGS.reconcile", {"tolerance": "('0.000001', '0.01')"}),
    "reprice": ("LOGS.reprice", {"by": "'tenant'", "model_map": "{'gpt-4o': 'gpt-4.1-mini'}"}),
    "write": ("LOGS.write", {"path": "str(TMP / 'out.parquet')"}),
    "count_file": (
        "t.count_file",
        {"path": "TEXT", "encoding": "t.get_encoding('cl100k_base')", "errors": "'replace'", "num_threads": "1"},
    ),
    "stream_counter": (
        "t.StreamCounter",
        {"encoding": "t.get_encoding('cl100k_base')", "source": "'stdin'", "errors": "'strict'", "num_threads": "1"},
    ),
    "stream_counter_feed": ("t.StreamCounter(t.get_encoding('cl100k_base')).feed", {"data": "b'hello'"}),
    "from_tiktoken_file": (
        "t.Encoding.from_tiktoken_file",
        {"path": "RANKS", "pattern": "PATTERN", "special_tokens": "{'<|x|>': 256}", "name": "'mine'"},
    ),
    "from_ranks": (
        "t.Encoding.from_ranks",
        {"name": "'mine'", "mergeable_ranks": "BYTE_RANKS", "pattern": "PATTERN", "special_tokens": "[('<|x|>', 256)]"},
    ),
    "from_tokenizer_json": ("t.Encoding.from_tokenizer_json", {"path": "TOKENIZER_JSON", "name": "'tiny'"}),
    "from_tokenizer_json_str": (
        "t.Encoding.from_tokenizer_json_str",
        {"json": "TOKENIZER_JSON.read_text()", "name": "'tiny'"},
    ),
}

HOSTILE = [
    "None",
    "True",
    "-1",
    "2**70",
    "1.5",
    "float('nan')",
    "float('inf')",
    "b'x'",
    "'\\ud800'",
    "object()",
    "[object()]",
    "CYCLE",
]

CHILD = """
import decimal, json, math, pathlib, tempfile, traceback
import pyarrow as pa
import tokenprice as t

TMP = pathlib.Path(tempfile.mkdtemp())
LOGS = t.price_logs('examples/logs/gateway.jsonl.gz', num_threads=1) if {needs_logs} else None
CYCLE = {{}}
CYCLE['self'] = CYCLE
TEXT = TMP / 'text.txt'
TEXT.write_text('hello world')
OVERRIDES = TMP / 'overrides.toml'
OVERRIDES.write_text('[discounts]\\nopenai = "0.8"\\n')
PATTERN = r'\\S+|\\s+'
BYTE_RANKS = {{bytes([b]): b for b in range(256)}}
RANKS = TMP / 'bytes.tiktoken'
RANKS.write_text(''.join(f'{{__import__("base64").b64encode(b).decode()}} {{r}}\\n' for b, r in BYTE_RANKS.items()))
TOKENIZER_JSON = TMP / 'tokenizer.json'
TOKENIZER_JSON.write_text(json.dumps({{'model': {{'type': 'WordLevel', 'vocab': {{'a': 0, '[UNK]': 1}},
                                      'unk_token': '[UNK]'}}, 'pre_tokenizer': {{'type': 'Whitespace'}}}}))
target = {target}
base = {{{base}}}
leaks = []
for name in list(base):
    for text in {hostile}:
        args = dict(base)
        args[name] = eval(text)
        try:
            target(**args)
        except t.TokenPriceError:
            pass
        except BaseException as e:  # noqa: BLE001 - what escapes is the finding
            leaks.append(f"{{name}}={{text}}: {{type(e).__module__}}.{{type(e).__qualname__}}: {{str(e)[:200]}}")
print(json.dumps(leaks))
"""


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_only_tokenprice_errors_escape(name: str) -> None:
    target, base = TARGETS[name]
    code = CHILD.format(
        needs_logs=target.startswith("LOGS"),
        target=target,
        base=", ".join(f"{k!r}: {v}" for k, v in base.items()),
        hostile=repr(HOSTILE),
    )
    leaks = run_case(code, timeout=300).json()
    assert leaks == [], f"{name}: builtin exceptions escaped:\n" + "\n".join(leaks)  # type: ignore[arg-type]

"""Hostile arguments to the counting and encoding functions, each run in a child process (memory limit, timeout).

Wrong types must raise `InvalidTypeError` (a `TokenPriceError` and a `TypeError`), bad values `InvalidArgumentError`
or `InvalidTokenError`, each naming the argument and the value — never pyo3's bare `TypeError`/`OverflowError` or
a `UnicodeEncodeError`. Lone surrogates in text are read as tiktoken reads them (U+FFFD).
"""

from __future__ import annotations

import pytest

from hostile import run_case

# Each call raises; the child reports the exception's classes and message.
_PROBE = """
import json, tokenprice as tp
e = tp.get_encoding("cl100k_base")
out = {}
for label, expr in CASES.items():
    try:
        eval(expr)
        out[label] = None
    except BaseException as ex:
        out[label] = [[c.__name__ for c in type(ex).__mro__], str(ex)]
print(json.dumps(out))
"""


def _raised(cases: dict[str, str]) -> dict[str, tuple[list[str], str]]:
    out = run_case(f"CASES = {cases!r}\n" + _PROBE).json()
    assert isinstance(out, dict)
    for label, found in out.items():
        assert found is not None, f"{label}: no error raised"
    return {k: (v[0], v[1]) for k, v in out.items()}


WRONG_TYPES = {
    "get_encoding(None)": ("tp.get_encoding(None)", "name"),
    "get_encoding(5)": ("tp.get_encoding(5)", "name"),
    "encoding_for_model(None)": ("tp.encoding_for_model(None)", "model"),
    "encoding_name_for_model(b'x')": ("tp.encoding_name_for_model(b'gpt-4o')", "model"),
    "count_tokens(5)": ("tp.count_tokens(5, model='gpt-4o')", "int"),
    "count_tokens(model=5)": ("tp.count_tokens('x', model=5)", "model"),
    "count_tokens(encoding=5)": ("tp.count_tokens('x', encoding=5)", "name"),
    "count_tokens([1])": ("tp.count_tokens(['a', 1], model='gpt-4o')", "texts[1]"),
    "encode(b'x')": ("e.encode(b'x')", "text"),
    "encode_ordinary(None)": ("e.encode_ordinary(None)", "text"),
    "count(None)": ("e.count(None)", "text"),
    "count(num_threads='x')": ("e.count('abc', num_threads='x')", "num_threads"),
    "count(num_threads=True)": ("e.count('abc', num_threads=True)", "num_threads"),
    "extract_usages(num_threads=True)": ("tp.extract_usages(['{}'], num_threads=True)", "num_threads"),
    "count_till_limit('a')": ("e.count_till_limit('abc', 'a')", "limit"),
    "count_till_limit(1.5)": ("e.count_till_limit('abc', 1.5)", "limit"),
    "count_batch('abc')": ("e.count_batch('abc')", "texts"),
    "encode_batch([None])": ("e.encode_batch([b'x'])", "texts[0]"),
    "decode(['a'])": ("e.decode(['a'])", "tokens[0]"),
    "decode(5)": ("e.decode(5)", "tokens"),
    "decode_single_token_bytes('1')": ("e.decode_single_token_bytes('1')", "token"),
    "StreamCounter.feed(str)": ("tp.StreamCounter(e).feed('abc')", "bytes"),
    "image_tokens('a')": ("tp.image_tokens('a', 3, 'gpt-4o')", "width"),
    "count_message_tokens(model=None)": ("tp.count_message_tokens([], model=None)", "model"),
}


def test_wrong_types_are_invalid_type_errors_naming_the_argument() -> None:
    found = _raised({label: expr for label, (expr, _) in WRONG_TYPES.items()})
    for label, (classes, message) in found.items():
        assert "InvalidTypeError" in classes and "TypeError" in classes and "TokenPriceError" in classes, (
            label,
            classes,
            message,
        )
        assert WRONG_TYPES[label][1] in message, (label, message)


BAD_VALUES = {
    "count_till_limit(-1)": ("e.count_till_limit('abc', -1)", "limit=-1"),
    "count_till_limit(2**80)": ("e.count_till_limit('abc', 2**80)", "limit=1208925819614629174706176"),
    "decode([-1])": ("e.decode([-1])", "tokens[0]=-1"),
    "decode_bytes([5, -7])": ("e.decode_bytes([5, -7])", "tokens[1]=-7"),
    "decode_single_token_bytes(-1)": ("e.decode_single_token_bytes(-1)", "token=-1"),
    "count(num_threads=-1)": ("e.count('abc', num_threads=-1)", "num_threads=-1"),
    "count(num_threads=0)": ("e.count('abc', num_threads=0)", "num_threads=0"),
    "count_batch(num_threads=-1)": ("e.count_batch(['abc'], num_threads=-1)", "num_threads=-1"),
    "encode_batch(num_threads=-2)": ("e.encode_batch(['abc'], num_threads=-2)", "num_threads=-2"),
    "count_tokens(num_threads=-1)": ("tp.count_tokens('abc', model='gpt-4o', num_threads=-1)", "num_threads=-1"),
    "extract_usages(num_threads=0)": ("tp.extract_usages(['{}'], num_threads=0)", "num_threads=0"),
    "StreamCounter(num_threads=-1)": ("tp.StreamCounter(e, num_threads=-1)", "num_threads=-1"),
    "image_tokens(-5)": ("tp.image_tokens(-5, 3, 'gpt-4o')", "width=-5"),
    "decode(errors='nope')": ("e.decode([1], errors='nope')", 'errors="nope"'),
}


def test_bad_values_are_invalid_argument_errors_naming_the_value() -> None:
    found = _raised({label: expr for label, (expr, _) in BAD_VALUES.items()})
    for label, (classes, message) in found.items():
        assert "InvalidArgumentError" in classes and "TokenPriceError" in classes, (label, classes, message)
        assert "OverflowError" not in classes, label
        assert BAD_VALUES[label][1] in message, (label, message)


def test_a_token_id_past_the_vocabulary_is_an_invalid_token_error() -> None:
    found = _raised({"decode([10**9])": "e.decode([10**9])", "single": "e.decode_single_token_bytes(2**40)"})
    for label, (classes, message) in found.items():
        assert "InvalidTokenError" in classes and "TokenPriceError" in classes, (label, classes)
        assert "1000000000" in message or "1099511627776" in message, (label, message)


# Lone surrogates and split surrogate pairs, as tiktoken's encode/encode_ordinary re-read them.
_SURROGATE_TEXTS = ["a\ud800b", "\udfff", "x \ud83d\ude00 y", "\ud83d", "ok <|endoftext|> \udc80"]


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_lone_surrogates_count_and_encode_as_tiktoken_does(name: str) -> None:
    code = f"""
    import json, tiktoken, tokenprice as tp
    ours, theirs = tp.get_encoding({name!r}), tiktoken.get_encoding({name!r})
    texts = {_SURROGATE_TEXTS!r}
    out = []
    for t in texts:
        expected = theirs.encode(t, disallowed_special=())
        out.append({{
            "expected": expected,
            "ordinary": theirs.encode_ordinary(t),
            "encode": ours.encode(t, disallowed_special=()),
            "encode_ordinary": ours.encode_ordinary(t),
            "count": ours.count(t),
            "count_tokens": tp.count_tokens(t, encoding={name!r}),
            "till_limit": ours.count_till_limit(t, 1000),
        }})
    batch = ours.count_batch(texts), ours.encode_ordinary_batch(texts), ours.encode_batch(texts, disallowed_special=())
    listed = tp.count_tokens(texts, encoding={name!r})
    try:
        ours.encode("ok <|endoftext|> \\udc80")
        special = None
    except tp.DisallowedSpecialTokenError as ex:
        special = str(ex)
    print(json.dumps([out, batch, listed, special]))
    """
    out, (counts, ordinary_batch, encode_batch), listed, special = run_case(code).json()  # type: ignore[misc]
    for row in out:
        assert row["expected"] == row["ordinary"]
        for key in ("encode", "encode_ordinary"):
            assert row[key] == row["expected"], (key, row)
        assert row["count"] == row["count_tokens"] == row["till_limit"] == len(row["expected"]), row
    assert counts == listed == [len(r["expected"]) for r in out]
    assert ordinary_batch == encode_batch == [r["expected"] for r in out]
    assert special is not None and "<|endoftext|>" in special


def test_lone_surrogates_in_chat_messages_count_as_replacement_characters() -> None:
    code = """
    import json, tokenprice as tp
    a = tp.count_message_tokens([{"role": "user", "content": "hi \\ud800 there"}], model="gpt-4o")
    b = tp.count_message_tokens([{"role": "user", "content": "hi \\ufffd there"}], model="gpt-4o")
    print(json.dumps([a, b]))
    """
    a, b = run_case(code).json()  # type: ignore[misc]
    assert a == b


def test_a_child_forked_while_an_encoding_is_being_built_does_not_wait_for_it() -> None:
    # The first piece over 32 KiB builds o200k's linear-time encoder (over a second). Children forked while
    # another thread is inside that build must build their own, not wait forever for a thread they do not have.
    code = """
    import json, os, threading, time, tokenprice as tp
    long_piece = "x" * 40_000
    tp.get_encoding("o200k_base").count("warm")
    threading.Thread(target=lambda: tp.get_encoding("o200k_base").count(long_piece), daemon=True).start()
    pids = []
    for _ in range(3):
        time.sleep(0.2)  # inside the build: it takes over a second
        pid = os.fork()
        if pid == 0:
            os._exit(0 if tp.get_encoding("o200k_base").count(long_piece) == 5000 else 3)
        pids.append(pid)
    deadline = time.monotonic() + 60
    results = {}
    while len(results) < len(pids) and time.monotonic() < deadline:
        for pid in pids:
            if pid not in results:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    results[pid] = os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    for pid in pids:
        if pid not in results:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            results[pid] = "hung"
    print(json.dumps([results[p] for p in pids]))
    """
    assert run_case(code, timeout=400).json() == [0, 0, 0]

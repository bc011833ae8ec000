"""Shared fixtures. The reference tokenizer is the tiktoken package itself, run offline from the vocabulary files
that `make tiktoken-cache` puts in TIKTOKEN_CACHE_DIR; a test that needs it fails (never skips) without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENCODINGS = ["r50k_base", "p50k_base", "p50k_edit", "cl100k_base", "o200k_base", "o200k_harmony"]


@pytest.fixture(scope="session")
def tiktoken_module():  # type: ignore[no-untyped-def]
    import tiktoken

    cache = os.environ.get("TIKTOKEN_CACHE_DIR")
    if not cache or not Path(cache).is_dir():
        pytest.fail("TIKTOKEN_CACHE_DIR is not set up: run `make tiktoken-cache` (make test does it)")
    return tiktoken


@pytest.fixture(scope="session")
def reference(tiktoken_module):  # type: ignore[no-untyped-def]
    """tiktoken's encodings by name."""
    return {name: tiktoken_module.get_encoding(name) for name in ENCODINGS}


# A varied corpus: prose, code, CJK, emoji, combining marks, long runs of spaces, newlines and digits.
CORPUS = [
    "The quick brown fox jumps over the lazy dog. It's 5 o'clock; they're LATE!",
    "In 1492, Columbus sailed the ocean blue — or so the rhyme goes…",
    'def fib(n: int) -> int:\n    """Fibonacci."""\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n',
    'fn main() {\n\tlet v: Vec<u64> = (0..10).map(|x| x * x).collect();\n\tprintln!("{v:?}");\n}\r\n',
    "SELECT id, name FROM users WHERE created_at >= '2024-01-01' ORDER BY 2 DESC;",
    '<html><body><p class="x">Hello &amp; welcome</p></body></html>',
    "人工智能正在改变世界。我们需要理解它的影响。",
    "日本語の文章を正しく数えることができますか？カタカナとひらがな。",
    "한국어 텍스트도 정확하게 토큰화되어야 합니다.",
    "Emoji: 😀😃😄 👩‍👩‍👧‍👦 🇯🇵🇺🇸 ❤️‍🔥 🏳️‍🌈",
    "Combining: e\u0301 a\u0300 n\u0303 o\u0308\u0304 Z\u0335\u0321\u0322 \u0301\u0301 start",
    "Arabic: مرحبا بالعالم. Hebrew: שלום עולם. Hindi: नमस्ते दुनिया. Thai: สวัสดีชาวโลก",
    "Spaces:" + " " * 50 + "end" + "\t" * 5 + "\n" * 7 + "   \n\n   ",
    "Digits: 0123456789 3.14159265358979 1,000,000 ١٢٣٤٥٦ ½ ⅓ ²³",
    "URLs https://example.com/path?q=1&r=2#frag and emails a.b@c.de //comment /* block */",
    "CamelCaseIdentifier snake_case_identifier SCREAMING_CASE kebab-case-id",
    "<|endoftext|> and <|fim_prefix|> look like special tokens but are text here",
    "",
    " ",
    "\n",
    "a" * 3000,
    "ab" * 1500,
    "中" * 2000,
    "😀" * 500,
    " " * 5000,
    "\n\n" * 1000 + "x",
    "1234567890" * 300,
]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    """With CI=true a skipped test fails the run: on CI every tool and data file a test needs must be there."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI", "").lower() == "true" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped under CI=true (a missing tool or data file must fail the run): {reason}"

"""scripts/import_prices.py against the pinned versions: the book is what the import of genai-prices
(GENAI_PRICES_VERSION) and LiteLLM (LITELLM_VERSION) plus the hand corrections gives, and `--check` says when it
is behind, model by model."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "import_prices.py"


def pinned(name: str) -> str:
    m = re.search(rf'^{name} = "([^"]+)"', SCRIPT.read_text(encoding="utf-8"), re.M)
    assert m, name
    return m.group(1)


def litellm_wheel() -> Path:
    wheels = sorted((ROOT / "benches" / ".cache" / "litellm").glob(f"litellm-{pinned('LITELLM_VERSION')}-*.whl"))
    if not wheels:
        pytest.skip(
            f"LiteLLM {pinned('LITELLM_VERSION')}'s wheel is not in benches/.cache/litellm/ "
            f"(pip download litellm=={pinned('LITELLM_VERSION')} --no-deps -d benches/.cache/litellm/)"
        )
    return wheels[0]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--quiet", "--litellm", str(litellm_wheel()), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_pins_are_the_versions_the_book_says_it_was_built_from() -> None:
    header = (ROOT / "prices" / "openai.toml").read_text(encoding="utf-8").splitlines()[0]
    assert f"genai-prices {pinned('GENAI_PRICES_VERSION')} and LiteLLM {pinned('LITELLM_VERSION')}" in header
    assert f"genai-prices=={pinned('GENAI_PRICES_VERSION')}" in (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def test_the_book_is_current_with_the_pinned_versions() -> None:
    r = run("--check")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert re.search(r"^0 of \d+ files differ", r.stderr, re.M), r.stderr[-2000:]


def test_check_fails_and_names_each_model_when_the_book_is_behind(tmp_path: Path) -> None:
    book = tmp_path / "book"
    shutil.copytree(ROOT / "prices", book)
    openai = book / "openai.toml"
    text = openai.read_text(encoding="utf-8")
    # An old book: o3's launch cache price as it was before the correction.
    at = text.index('\nid = "o3"\n')
    text = text[:at] + text[at:].replace('cache_read_per_mtok = "2.5"', 'cache_read_per_mtok = "0.5"', 1)
    openai.write_text(text, encoding="utf-8")
    r = run("--check", "--out", str(book))
    assert r.returncode == 1
    assert "== prices/openai.toml: changed" in r.stdout
    assert re.search(r"^  ~ o3: prices", r.stdout, re.M), r.stdout[:3000]
    # --write brings the folder up to date; then --check passes.
    assert run("--write", "--out", str(book)).returncode == 0
    assert run("--check", "--out", str(book)).returncode == 0


def test_the_coverage_table_in_prices_readme_is_current() -> None:
    litellm_wheel()  # the table's LiteLLM column is read from the pinned wheel
    r = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "coverage_table.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert r.returncode == 0, "prices/README.md's coverage table is out of date: python scripts/coverage_table.py"

"""The README's and docs/'s examples run as written, and their links resolve, so they stay true.

Each Python block runs alone in a fresh interpreter (its own imports, its own data), as a reader who copies one
block would run it; each line of a `sh` block runs the installed `tokenprice` command from the repository's root.
A block that is not meant to run says so on its fence (```` ```python no-run ````, ```` ```sh no-run ````), and
NOT_RUN below counts them per file, so no block is skipped silently. The quick start's first command runs in a
fresh virtualenv without extras in `make quickstart` (part of `make test`), not here: it installs the package.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

import tokenprice

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]

# The blocks each page holds that are not run, by language: the quick start (run by `make quickstart`) and
# CONTRIBUTING's setup commands.
# docs/litellm-postgres.md's example needs a Postgres: tests/test_postgres_source.py runs it against its server.
NOT_RUN = {("README.md", "sh"): 1, ("CONTRIBUTING.md", "sh"): 2, ("docs/litellm-postgres.md", "python"): 1}
# Languages whose blocks are shown, never run (a synopsis, a file's contents).
SHOWN = {"text", "toml", "json", "yaml", "rust", "make"}
RUN = {"python", "sh"}


class Block(NamedTuple):
    page: str
    line: int
    lang: str
    run: bool
    code: str


FENCE = re.compile(r"^```([\w-]*)([^\n`]*)\n(.*?)^```\s*$", re.S | re.M)


def blocks_of(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(text):
        lang, flags = m.group(1), m.group(2).split()
        assert set(flags) <= {"no-run"}, f"{path.name}: unknown fence flags {flags}"
        line = text.count("\n", 0, m.start()) + 1
        out.append(Block(str(path.relative_to(ROOT)), line, lang, "no-run" not in flags, m.group(3)))
    return out


BLOCKS = [b for page in PAGES for b in blocks_of(page)]
PYTHON = [b for b in BLOCKS if b.lang == "python" and b.run]
SHELL = [b for b in BLOCKS if b.lang == "sh" and b.run]


def block_id(b: Block) -> str:
    return f"{b.page}:{b.line}"


def test_every_page_exists_and_the_docs_show_the_api_in_python_blocks() -> None:
    names = {p.name for p in PAGES}
    for page in ("counting", "pricing", "prices", "reading-usage", "formats", "pricing-logs", "cli", "performance"):
        assert f"{page}.md" in names
    assert "layout.md" in names and "CONTRIBUTING.md" in names
    assert len(PYTHON) >= 20
    assert sum(1 for b in PYTHON if b.page == "README.md") >= 5


def test_every_block_has_a_known_language_and_the_unrun_ones_are_counted() -> None:
    for b in BLOCKS:
        assert b.lang in RUN | SHOWN, f"{block_id(b)}: a block needs a language (one of {sorted(RUN | SHOWN)})"
    not_run: dict[tuple[str, str], int] = {}
    for b in BLOCKS:
        if b.lang in RUN and not b.run:
            not_run[(b.page, b.lang)] = not_run.get((b.page, b.lang), 0) + 1
    assert not_run == NOT_RUN


@pytest.mark.parametrize("block", PYTHON, ids=block_id)
def test_python_block_runs_alone(block: Block) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", block.code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, f"{block_id(block)} failed when run alone:\n{block.code}\n{proc.stderr[-3000:]}"


def tokenprice_command() -> str:
    """The installed command beside this interpreter (a venv's bin/), else the one on PATH."""
    beside = Path(sys.executable).parent / "tokenprice"
    found = str(beside) if beside.exists() else shutil.which("tokenprice")
    assert found, "the tokenprice command is not installed"
    return found


@pytest.mark.parametrize("block", SHELL, ids=block_id)
def test_shell_block_runs(block: Block) -> None:
    lines = [line for line in block.code.splitlines() if line.strip()]
    assert lines and all(line.startswith("tokenprice ") for line in lines), f"{block_id(block)} runs only tokenprice"
    for line in lines:
        proc = subprocess.run(
            ["bash", "-c", tokenprice_command() + line.removeprefix("tokenprice")],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == 0, f"{block_id(block)}: {line!r} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        assert proc.stdout.strip(), f"{block_id(block)}: {line!r} printed nothing"


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation but - and _ dropped, spaces to dashes."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, re.M)}


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def test_every_relative_link_points_to_an_existing_file_and_anchor() -> None:
    checked = 0
    for page in PAGES:
        text = FENCE.sub("", page.read_text(encoding="utf-8"))
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            dest = (page.parent / file).resolve() if file else page
            assert dest.exists(), f"{page.name}: link {target!r} points to a missing file"
            assert dest.is_relative_to(ROOT), f"{page.name}: link {target!r} leaves the repository"
            if anchor:
                assert dest.suffix == ".md", f"{page.name}: link {target!r} has an anchor into a non-Markdown file"
                assert anchor in anchors(dest), f"{page.name}: link {target!r}: no heading #{anchor} in {dest.name}"
            checked += 1
    assert checked >= 30


def test_slugs_follow_github() -> None:
    assert slug("How `price_logs` is fast") == "how-price_logs-is-fast"
    assert slug("Reconcile, reprice, savings") == "reconcile-reprice-savings"


def test_readme_links_every_docs_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"(docs/{page.name}" in readme, f"the README does not link docs/{page.name}"


def test_the_errors_page_lists_every_exception_class() -> None:
    errors = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    classes = [
        name
        for name in dir(tokenprice)
        if isinstance(getattr(tokenprice, name), type) and issubclass(getattr(tokenprice, name), BaseException)
    ]
    assert "TokenPriceError" in classes and len(classes) > 10
    for name in classes:
        if name != "TokenPriceError" and issubclass(getattr(tokenprice, name), tokenprice.TokenPriceError):
            assert f"| `{name}` |" in errors, f"docs/errors.md does not list {name}"


def test_readme_quick_start_is_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = next(b for b in blocks_of(ROOT / "README.md") if b.lang == "sh" and not b.run)
    assert text.index("## Quick start") < text.index(quick.code)
    commands = [line.split("#", 1)[0].strip() for line in quick.code.strip().splitlines() if line.strip()]
    assert len(commands) == 2
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    # `make quickstart` runs exactly the README's first command, so the two cannot drift apart.
    assert commands[0] == "pip install . && tokenprice price examples/logs/gateway.jsonl.gz --by tenant,feature"
    assert f"QUICKSTART := {commands[0]}" in makefile
    assert commands[1] == "make test"

"""The project's habits stay in step: the pre-commit hooks run exactly `make lint`'s commands, and mypy checks the
oldest Python the package supports."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def normalized(command: str) -> str:
    """One spelling for a command: `$(PYTHON)` and `python` alike, `env VAR=x cmd` as `VAR=x cmd`."""
    command = " ".join(command.split())
    command = command.replace("$(PYTHON)", "python")
    return command.removeprefix("env ")


def lint_commands() -> list[str]:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\nlint:", 1)[1].split("\n", 1)[1]
    lines = []
    for line in recipe.splitlines():
        if not line.startswith("\t"):
            break
        lines.append(normalized(line.strip()))
    return lines


def hook_commands() -> list[str]:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    assert all(repo["repo"] == "local" for repo in config["repos"])
    for hook in hooks:
        assert hook["language"] == "system" and hook["pass_filenames"] is False, hook["id"]
    return [normalized(hook["entry"]) for hook in hooks]


def tool(command: str) -> str:
    """The tool a command runs: `cargo clippy`, `ruff format`, `mypy.stubtest`, ..."""
    words = [w for w in command.split() if "=" not in w and w not in ("python", "-m")]
    return " ".join(words[:2]) if words[0] in ("cargo", "ruff") else words[0]


def test_the_makefile_lint_runs_every_tool() -> None:
    tools = [tool(c) for c in lint_commands()]
    assert tools == [
        "cargo fmt",
        "cargo clippy",
        "cargo clippy",
        "cargo doc",
        "cargo doc",
        "ruff check",
        "ruff format",
        "mypy",
        "mypy.stubtest",
    ]
    assert "RUSTDOCFLAGS=-Dwarnings cargo doc --no-deps" in lint_commands()
    assert "RUSTDOCFLAGS=-Dwarnings cargo doc --no-deps --features python" in lint_commands()


def test_pre_commit_hooks_run_the_same_commands_as_make_lint() -> None:
    assert hook_commands() == lint_commands()


def test_mypy_checks_the_oldest_supported_python() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    cargo = (ROOT / "Cargo.toml").read_text(encoding="utf-8")
    oldest = re.search(r'^requires-python = ">=(3\.\d+)"', pyproject, re.M)
    mypy = re.search(r'^\[tool\.mypy\]\n(?:.*\n)*?python_version = "(3\.\d+)"', pyproject, re.M)
    ruff = re.search(r'^target-version = "py3(\d+)"', pyproject, re.M)
    abi3 = re.search(r'"abi3-py3(\d+)"', cargo)
    assert oldest and mypy and ruff and abi3
    assert mypy.group(1) == oldest.group(1) == f"3.{ruff.group(1)}" == f"3.{abi3.group(1)}" == "3.10"


def test_import_loads_only_what_counting_and_pricing_need() -> None:
    """``import tokenprice`` leaves the service's and engines' modules (budgets, instrument and sinks, the Arrow
    layer, the log sources, object storage) and the logs' (``price_logs``, the displays) until first named; every public name still resolves, by attribute and
    by ``from tokenprice import``, and ``dir()`` lists it."""
    import subprocess
    import sys

    code = (
        "import sys, tokenprice\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('tokenprice'))))\n"
        "missing = [n for n in tokenprice.__all__ if n not in dir(tokenprice)]\n"
        "values = [getattr(tokenprice, n) for n in tokenprice.__all__]\n"
        "from tokenprice import Budget, sources, summarize, labels, JsonlSink, price_logs\n"
        "print(missing, sources.__name__, Budget.__module__, summarize.__module__, price_logs.__module__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    loaded = set(out[0].split())
    lazy = {"_batches", "_budget", "_calls", "_display", "_instrument", "_labels", "_ledger", "_sinks", "_storage"}
    lazy |= {"_progress", "sources"}
    assert not loaded & {f"tokenprice.{m}" for m in lazy}, sorted(loaded)
    assert out[1] == "[] tokenprice.sources tokenprice._budget tokenprice._batches tokenprice._ledger"
    import pytest

    import tokenprice

    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        tokenprice.nothing_here  # type: ignore[attr-defined]  # noqa: B018

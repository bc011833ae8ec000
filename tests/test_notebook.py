"""``examples/costs.ipynb`` runs from top to bottom in a fresh kernel of this environment (any error in a cell
fails the test), and shows what it promises: the total cost, a chart, the reconciliation. Its outputs are kept
out of git."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import tokenprice
from tokenprice._display import money_text

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NOTEBOOK = EXAMPLES / "costs.ipynb"


def test_the_notebook_is_stored_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    assert nb.metadata.kernelspec.name == "python3"


def test_the_notebook_runs_and_shows_the_total(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The "python3" kernel is this interpreter, whatever other kernels the machine has registered: a spec of our
    # own comes first on JUPYTER_PATH.
    spec = tmp_path / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Python 3", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # It writes its report where it runs: a copy of examples/ keeps the tree clean.
    work = tmp_path / "run"
    (work / "logs").mkdir(parents=True)
    for log in (EXAMPLES / "logs").iterdir():
        (work / "logs" / log.name).write_bytes(log.read_bytes())
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(work)}}).execute()

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = "\n".join(o.get("data", {}).get("text/html", "") for o in outputs)
    text = "\n".join(o.get("text", "") for o in outputs)
    logs = tokenprice.price_logs(EXAMPLES / "logs" / "gateway.jsonl.gz")
    assert money_text(logs.total_cost) in html  # the PricedLogs and the summary cells
    assert f"total cost: {logs.total_cost} USD" in text
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the chart
    rec = logs.reconcile()
    assert f"{rec.mismatches.num_rows:,} mismatches" in html
    assert "<b>reprice</b>" in html and "<b>savings</b>" in html
    report = (work / "costs-report.html").read_text()
    assert "<html" in report.lower() and logs.rows_read > 0

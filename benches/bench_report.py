"""The cost report at scale: 1M generated gateway log rows (benches/bench_logs.py's corpus: 6 tenants, 4
features, 6 models, 22 months, 90,000 conversations) priced, then `PricedLogs.report()`; its build time, the
size of its embedded data and of the file, and — in Debian's chromium, headless — the time until the page has drawn
every panel, and the time one tenant filter takes to redraw them. A screenshot of the page goes to
target/report-screenshots/report-1m.png. Results go to ``benches/RESULTS.md``.

Usage: python benches/bench_report.py [--rows 1000000] [--no-write]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCREENSHOTS = HERE.parent / "target" / "report-screenshots"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from bench_logs import command_line, corpus, machine, publish  # noqa: E402

from browser import chromium  # noqa: E402


def load_in_chromium(path: Path, screenshot: Path) -> tuple[float, float, float, int]:
    """(seconds until every panel is drawn as the page measures it, wall seconds of the load, seconds of one
    tenant filter's redraw, console errors) in headless chromium."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chromium(browser="ALL")
    try:
        driver.set_page_load_timeout(300)
        t = time.perf_counter()
        driver.get(path.as_uri())
        WebDriverWait(driver, 300).until(lambda d: d.execute_script("return document.body.dataset.ready") == "true")
        wall = time.perf_counter() - t
        ready = float(driver.execute_script("return document.body.dataset.readyMs")) / 1000
        redraw = driver.execute_script(
            "const s = document.getElementById('filter-tenant'); const t = performance.now();"
            "s.value = s.options[1].value; s.dispatchEvent(new Event('change'));"
            "const took = performance.now() - t; s.value = '-1'; s.dispatchEvent(new Event('change')); return took;"
        )
        driver.save_screenshot(str(screenshot))
        errors = sum(1 for e in driver.get_log("browser") if e["level"] == "SEVERE")
        return ready, wall, float(redraw) / 1000, errors
    finally:
        driver.quit()


def main() -> None:
    args = command_line(rows=1_000_000)
    import tokenprice

    path = corpus(f"gateway-{args.rows}rows.jsonl", rows=args.rows)
    t = time.perf_counter()
    logs = tokenprice.price_logs(str(path))
    priced = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.html"
        t = time.perf_counter()
        sizes = logs.report(report, title=f"Gateway costs, {args.rows:,} rows")
        built = time.perf_counter() - t
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / ("report-1m.png" if args.rows == 1_000_000 else f"report-{args.rows}.png")
        ready, wall, redraw, errors = load_in_chromium(report, shot)
    section = [
        f"## Cost report, {args.rows:,} rows (issue 17) — {time.strftime('%Y-%m-%d')}",
        "",
        machine("bench_report.py")
        + f" {args.rows:,} generated Logs API rows ({path.stat().st_size / 1e6:,.0f} MB): 6 tenants, 4 features, "
        "6 models, 22 months, 90,000 conversations. One run; load average %.1f at the end (the machine is shared)."
        % os.getloadavg()[0],
        "",
        "| measurement | value |",
        "|---|---|",
        f"| `price_logs` (rows kept, for reference) | {priced:.2f} s |",
        f"| `report()`: aggregates, savings repricing, reconciliation, writing | {built:.2f} s |",
        f"| cube cells (day × tenant × feature × model × provider) | {sizes['cells']:,} |",
        f"| embedded data (payload) | {sizes['payload'] / 1e6:.2f} MB |",
        f"| whole file (with Plotly's 4.8 MB) | {sizes['file'] / 1e6:.2f} MB |",
        f"| chromium: page drawn (every panel), as the page measures it | {ready:.2f} s |",
        f"| chromium: load wall time through selenium | {wall:.2f} s |",
        f"| chromium: one tenant filter, every panel redrawn | {redraw * 1000:.0f} ms |",
        f"| console errors | {errors} |",
        "",
        f"Screenshot: `target/report-screenshots/{shot.name}` (not committed).",
    ]
    publish("## Cost report,", section, not args.no_write)


if __name__ == "__main__":
    main()

"""The cost report (`PricedLogs.report`, `tokenprice report`, `tokenprice price --html`): what it embeds (aggregates
that add up to `summary()`, `savings()` and `reconcile()`), that its size is bounded by the groups and not the rows,
that untrusted labels cannot break out of it, and — in Debian's chromium, headless through selenium — that the page
loads with no console error and no network request, shows the totals of `summary()`, and follows the tenant filter.

The browser tests skip when chromium or its driver is missing (`make browser` installs them); with CI=true a skip
fails the run (tests/conftest.py)."""

from __future__ import annotations

import html
import json
import random
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Context, Decimal
from pathlib import Path
from typing import Any

import pytest

import tokenprice
from tokenprice._report import TOP_PER_GROUP, _money, _top_per_group, display_usd, payload_of, script_json

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "logs" / "gateway.jsonl.gz"
SCREENSHOTS = ROOT / "target" / "report-screenshots"
sys.path.insert(0, str(ROOT / "examples"))

from generate_logs import MODELS, logs_item  # noqa: E402

from browser import chromium, missing  # noqa: E402

HOSTILE = ["<img src=x onerror=alert(1)>", "</script><script>alert(1)</script>"]


def amount(money: list[list[Any]], i: int) -> int:
    """One amount of the payload, in 10⁻¹⁸ USD (as the page reads it with BigInt)."""
    return int(money[0][i]) * 10**9 + int(money[1][i])


def atto(value: Decimal | None) -> int:
    """An amount in 10⁻¹⁸ USD, exactly (38 digits need more than the default context's 28)."""
    return 0 if value is None else int(value.scaleb(18, context=Context(prec=80)))


def sums_by(payload: dict[str, Any], table: str, dim: str, money: str) -> dict[Any, int]:
    """A payload table's amounts summed per label of `dim` (the label itself, not its index)."""
    t = payload[table]
    out: dict[Any, int] = {}
    money_columns = t["money"] if "money" in t else t
    for i, index in enumerate(t[dim]):
        key = payload["dims"][dim][index]
        out[key] = out.get(key, 0) + amount(money_columns[money], i)
    return out


def write_logs(path: Path, rows: int, tenants: list[str], days: int = 10, seed: int = 3) -> Path:
    """Gateway Logs API items (examples/generate_logs.py's) with few groups: `tenants` × 2 features × 2 models over
    `days` days and 20 conversations, however many rows."""
    rng = random.Random(seed)
    models = [m for m in MODELS if m[1] in ("gpt-4o", "gpt-4o-mini")]
    start = datetime(2025, 6, 1, tzinfo=timezone.utc)
    with path.open("w") as out:
        for i in range(rows):
            labels = {
                "tenant": tenants[i % len(tenants)],
                "feature": rng.choice(["chat", "search"]),
                "conversation": f"c{rng.randint(1, 20)}",
            }
            when = start + timedelta(seconds=rng.uniform(0, days * 86400))
            out.write(json.dumps(logs_item(rng, i, when, labels, models[i % 2]), separators=(",", ":")) + "\n")
    return path


@pytest.fixture(scope="module")
def sample() -> tokenprice.PricedLogs:
    return tokenprice.price_logs(str(SAMPLE))


@pytest.fixture(scope="module")
def hostile_logs(tmp_path_factory: pytest.TempPathFactory) -> tokenprice.PricedLogs:
    """The sample logs and a few more calls by tenants whose names are markup."""
    extra = write_logs(tmp_path_factory.mktemp("hostile") / "hostile.jsonl", 40, HOSTILE + ["acme"])
    return tokenprice.price_logs([str(SAMPLE), str(extra)])


# -- what is embedded ----------------------------------------------------------------------------------------------


def test_money_is_displayed_rounded_half_away_from_zero_with_two_or_six_places() -> None:
    assert display_usd(Decimal("1234.565")) == "$1,234.57"
    assert display_usd(Decimal("1234567.004999")) == "$1,234,567.00"
    assert display_usd(Decimal("0.0042")) == "$0.004200"
    assert display_usd(Decimal("0.0000005")) == "$0.000001"
    assert display_usd(Decimal("-0.5")) == "-$0.500000"
    assert display_usd(Decimal("-0.0000001")) == "$0.000000"
    assert display_usd(Decimal("0")) == "$0.00"  # nothing spent reads as such, not as a tiny amount
    assert display_usd(Decimal("1")) == "$1.00"


def test_the_embedded_json_cannot_end_its_script_element() -> None:
    nasty = {"tenant": HOSTILE + ["a & b", "<!-- x", "line\u2028sep\u2029par"]}
    text = script_json(nasty)
    for forbidden in ("<", ">", "&", "\u2028", "\u2029"):
        assert forbidden not in text
    assert json.loads(text) == nasty


def test_money_is_split_into_two_exact_integers() -> None:
    import pyarrow as pa

    values = [
        Decimal("1.123456789123456789"),
        Decimal("-1.123456789123456789"),
        Decimal("0.000000000999999999"),
        None,
        Decimal("-0.000000000000000001"),
        Decimal("9000000.000000000000000001"),
    ]
    split = _money(pa.array(values, pa.decimal128(38, 18)))
    assert all(isinstance(h, int) and abs(low) < 10**9 for h, low in zip(*split, strict=True))
    assert [amount(split, i) for i in range(len(values))] == [atto(v) for v in values]
    # Beyond 2**53 nano-dollars (9 million dollars) in one amount, the nano part is sent as text.
    large = [Decimal("12345678901.000000000000000007"), Decimal("-98765432109876.5")]
    split = _money(pa.array(large, pa.decimal128(38, 18)))
    assert all(isinstance(h, str) for h in split[0])
    assert [amount(split, i) for i in range(len(large))] == [atto(v) for v in large]


def test_the_top_calls_are_exact_where_floats_tie() -> None:
    import pyarrow as pa

    # 15 costs a float cannot tell apart (they differ in the 18th place), and cheaper ones.
    costs = [Decimal("0.1") + Decimal(k).scaleb(-18) for k in range(15)] + [Decimal("0.01")] * 5
    order = list(range(len(costs)))
    random.Random(1).shuffle(order)
    table = pa.table(
        {
            "tenant": ["a"] * len(costs),
            "feature": ["chat"] * len(costs),
            "total_cost": pa.array([costs[i] for i in order], pa.decimal128(38, 18)),
        }
    )
    top = _top_per_group(table, ["tenant", "feature"], "total_cost")
    assert top.column("total_cost").to_pylist() == sorted(costs, reverse=True)[:TOP_PER_GROUP]


def test_the_cube_adds_up_to_summary_savings_and_reconcile(sample: tokenprice.PricedLogs) -> None:
    payload = payload_of(sample)
    cube = payload["cube"]
    assert payload["counts"] == {
        "read": sample.rows_read,
        "priced": sample.rows_priced,
        "rejected": sample.rows_rejected,
    }
    assert sum(cube["rows"]) == sample.rows_priced
    total = sum(amount(cube["money"]["total_cost"], i) for i in range(len(cube["rows"])))
    assert total == atto(sample.total_cost)
    # Per tenant and per model (the priced one, else the requested one: a failed call priced nothing), as summary()
    # totals them.
    want = {r["tenant"]: atto(r["total_cost"]) for r in sample.summary("tenant").to_pylist()}
    assert sums_by(payload, "cube", "tenant", "total_cost") == want
    want = {}
    for r in sample.summary(["priced_model", "model"]).to_pylist():
        name = r["priced_model"] or r["model"]
        want[name] = want.get(name, 0) + atto(r["total_cost"])
    assert sums_by(payload, "cube", "model", "total_cost") == want
    for c in tokenprice._core.COST_COLUMNS:
        assert sum(amount(cube["money"][c], i) for i in range(len(cube["rows"]))) == atto(
            sum(sample.summary().column(c).to_pylist(), Decimal(0))
        )
    # Cache savings, split by gateway cache hit, as savings() has them.
    saved = {r["cache_hit"]: atto(r["saved"]) for r in sample.savings("cache_hit").to_pylist()}
    n = len(cube["rows"])
    assert saved[True] > 0 and saved[False] > 0
    assert sum(amount(cube["money"]["saved_gateway"], i) for i in range(n)) == saved[True]
    assert sum(amount(cube["money"]["saved_prompt"], i) for i in range(n)) == saved[False]
    # Reported against computed, and the mismatches by cause, as reconcile() has them.
    rec = sample.reconcile()
    assert sum(amount(cube["money"]["reported_cost"], i) for i in range(n)) == atto(rec.reported_total)
    assert sum(amount(cube["money"]["computed_reported"], i) for i in range(n)) == atto(rec.computed_total)
    mism = payload["mismatches"]
    assert sum(mism["lines"]) == rec.mismatches.num_rows
    want_causes: dict[str, tuple[int, int]] = {}
    for r in rec.mismatches.to_pylist():
        lines, money = want_causes.get(r["cause"], (0, 0))
        want_causes[r["cause"]] = (lines + 1, money + atto(r["difference"]))
    got_causes: dict[str, tuple[int, int]] = {}
    for i, c in enumerate(mism["cause"]):
        lines, money = got_causes.get(mism["causes"][c], (0, 0))
        got_causes[mism["causes"][c]] = (lines + mism["lines"][i], money + amount(mism["difference"], i))
    assert got_causes == want_causes and len(got_causes) >= 4
    # Every priced call is in one histogram bin; the rejects are counted by reason.
    assert sum(payload["histograms"]["calls"]) == sample.rows_priced
    assert sum(n for _, n in payload["rejects"]) == sample.rows_rejected
    assert all(not reason.startswith("{") for reason, _ in payload["rejects"])


def test_the_footer_names_the_price_entries_and_no_folder(sample: tokenprice.PricedLogs) -> None:
    meta = payload_of(sample, parameters={"format": None, "prices": Path("/secret/dir/prices.json")})["meta"]
    import pyarrow.compute as pc

    assert meta["book"]["newest_entry"] == pc.max(sample.table.column("price_from")).as_py().isoformat()
    assert meta["book"]["origins"] and all(o.startswith(("genai-prices", "hand")) for o in meta["book"]["origins"])
    assert meta["parameters"] == {"prices": "prices.json"} and meta["files"] == ["gateway.jsonl.gz"]


def test_the_most_expensive_calls_are_kept_per_tenant_and_feature(sample: tokenprice.PricedLogs) -> None:
    payload = payload_of(sample)
    calls = payload["calls"]
    kept: dict[tuple[str, str], list[int]] = {}
    for i in range(len(calls["id"])):
        key = (payload["dims"]["tenant"][calls["tenant"][i]], payload["dims"]["feature"][calls["feature"][i]])
        kept.setdefault(key, []).append(amount(calls["total_cost"], i))
    rows = sample.table.select(["tenant", "feature", "total_cost"]).to_pylist()
    want: dict[tuple[str, str], list[int]] = {}
    for r in rows:
        want.setdefault((r["tenant"], r["feature"]), []).append(atto(r["total_cost"]))
    assert set(kept) == set(want)
    for key, costs in want.items():
        top = sorted(costs, reverse=True)[: payload["meta"]["top_per_group"]]
        assert sorted(kept[key], reverse=True) == top, key
    # The conversations' totals are those of summary() by conversation.
    conv = payload["conversations"]
    by_conversation = {
        (r["tenant"], r["feature"], r["conversation"]): atto(r["total_cost"])
        for r in sample.summary(["tenant", "feature", "conversation"]).to_pylist()
    }
    assert len(conv["conversation"]) > 0
    for i, name in enumerate(conv["conversation"]):
        key = (payload["dims"]["tenant"][conv["tenant"][i]], payload["dims"]["feature"][conv["feature"][i]], name)
        assert amount(conv["total_cost"], i) == by_conversation[key]


def test_the_payload_is_bounded_by_the_groups_not_the_rows(tmp_path: Path) -> None:
    # The same few groups (3 tenants × 2 features × 2 models × 10 days, 20 conversations) at 20k and 200k rows.
    sizes = {}
    for rows in (20_000, 200_000):
        logs = tokenprice.price_logs(str(write_logs(tmp_path / f"{rows}.jsonl", rows, ["acme", "globex", "initech"])))
        sizes[rows] = len(script_json(payload_of(logs)).encode())
        assert logs.rows_priced > rows * 0.9
    bound = 120_000  # bytes: a fixed bound, whatever the number of rows
    assert sizes[200_000] < bound, sizes
    assert sizes[200_000] < sizes[20_000] * 1.15, sizes


def test_the_report_is_one_file_with_the_data_and_plotly_inlined(sample: tokenprice.PricedLogs, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    sizes = sample.report(path, title="Costs <b>&</b> more")
    page = path.read_text(encoding="utf-8")
    assert sizes["file"] == len(page.encode())
    assert "<title>Costs &lt;b&gt;&amp;&lt;/b&gt; more</title>" in page
    assert "Plotly" in page and "cdn" not in page.split('id="report-data"')[0].lower()
    # No external resource: no src= or href= on any element, no stylesheet link.
    assert " src=" not in page.split("<script>", 1)[0] and "<link" not in page
    assert page.count("<script") == 3


def test_the_report_says_how_to_install_plotly(
    sample: tokenprice.PricedLogs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "plotly", None)
    with pytest.raises(tokenprice.InvalidArgumentError, match=r"pip install tokenprice\[report\]"):
        sample.report(tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_a_run_without_rows_has_no_report(tmp_path: Path) -> None:
    logs = tokenprice.price_logs(str(SAMPLE), by="tenant", keep_rows=False)
    with pytest.raises(tokenprice.InvalidArgumentError, match="keep_rows=True"):
        logs.report(tmp_path / "r.html")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tokenprice", *args], capture_output=True, text=True, cwd=ROOT)


def test_the_commands_write_the_report(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    r = run_cli("report", str(SAMPLE), "-o", str(out), "--title", "Gateway costs")
    assert r.returncode == 0, r.stderr
    assert f"report written to {out}" in r.stdout and "5000 rows read" in r.stdout
    page = out.read_text(encoding="utf-8")
    data = json.loads(page.split('id="report-data">', 1)[1].split("</script>", 1)[0])
    assert data["counts"] == {"read": 5000, "priced": 4995, "rejected": 5}
    assert data["meta"]["files"] == ["gateway.jsonl.gz"] and str(ROOT) not in json.dumps(data["meta"])
    other = tmp_path / "priced.html"
    r = run_cli("price", str(SAMPLE), "--by", "tenant", "--html", str(other), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["rows_priced"] == 4995 and f"report written to {other}" in r.stderr
    priced = json.loads(other.read_text(encoding="utf-8").split('id="report-data">', 1)[1].split("</script>", 1)[0])
    assert priced["meta"]["parameters"]["by"] == ["tenant"] and priced["cube"] == data["cube"]


# -- in a browser ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless chromium driven by Debian's chromedriver; selenium never fetches a browser or driver."""
    why = missing()
    if why is not None:
        pytest.skip(why)
    driver = chromium(browser="ALL", performance="ALL")
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


def open_report(driver: Any, path: Path) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser")  # what an earlier page logged
    driver.get_log("performance")
    driver.get(path.as_uri())
    WebDriverWait(driver, 60).until(lambda d: d.execute_script("return document.body.dataset.ready") == "true")


def text_of(driver: Any, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.ID, element_id).text)


def test_the_page_loads_offline_and_shows_the_totals_and_the_tenant_filter(
    browser: Any, hostile_logs: tokenprice.PricedLogs, tmp_path: Path
) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    path = tmp_path / "report.html"
    hostile_logs.report(path, title="Gateway costs")
    open_report(browser, path)

    # No console error, no request but the page itself (everything inline; data: URLs allowed).
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    resources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert [r for r in resources if not r.startswith("data:")] == []
    requested = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requested.append(message["params"]["request"]["url"])
    assert requested and all(u == path.as_uri() or u.startswith("data:") for u in requested), requested

    # The totals are summary()'s, rounded for display.
    total = sum(hostile_logs.summary().column("total_cost").to_pylist(), Decimal(0))
    assert text_of(browser, "kpi-total-cost") == display_usd(total) != display_usd(Decimal(0))
    assert text_of(browser, "kpi-calls") == f"{hostile_logs.rows_priced:,}"
    assert text_of(browser, "kpi-read") == f"{hostile_logs.rows_read:,}"
    assert text_of(browser, "kpi-rejected") == f"{hostile_logs.rows_rejected:,}"
    rec = hostile_logs.reconcile()
    assert text_of(browser, "kpi-reported-cost") == display_usd(rec.reported_total)
    assert text_of(browser, "kpi-computed-reported") == display_usd(rec.computed_total)

    # Choosing a tenant changes the totals to that tenant's: the hostile names are options shown as text.
    by_tenant = {r["tenant"]: r for r in hostile_logs.summary("tenant").to_pylist()}
    tenant = Select(browser.find_element(By.ID, "filter-tenant"))
    assert set(HOSTILE) | {"acme", "globex"} <= {o.text for o in tenant.options}
    for name in ["acme", *HOSTILE]:
        tenant.select_by_visible_text(name)
        assert text_of(browser, "kpi-total-cost") == display_usd(by_tenant[name]["total_cost"]), name
        assert text_of(browser, "kpi-calls") == f"{by_tenant[name]['rows']:,}", name
        # Every panel follows: the tables list that tenant's calls and conversations only, the tenants chart has its
        # one bar, named with its markup escaped for Plotly (which would otherwise read tags in it).
        for table_id in ("table-calls", "table-conversations"):
            tenants = browser.execute_script(
                "return [...document.querySelectorAll('#' + arguments[0] + ' tbody tr')].map(r => r.cells[1].textContent)",
                table_id,
            )
            assert tenants and set(tenants) == {name}, (table_id, tenants)
        bars = browser.execute_script("return document.getElementById('chart-tenants').data[0].y")
        assert bars == [html.escape(name, quote=False)]
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - reading it is the check
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0
    assert browser.execute_script("return document.scripts.length") == 3
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []

    # A screenshot of the whole run (all tenants) for review, beside the test's output and in target/.
    tenant.select_by_value("-1")
    shot = tmp_path / "report-sample.png"
    assert browser.save_screenshot(str(shot)) and shot.read_bytes()[:4] == b"\x89PNG"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, SCREENSHOTS / shot.name)


def test_the_date_and_model_filters_update_the_totals(
    browser: Any, sample: tokenprice.PricedLogs, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    path = tmp_path / "report.html"
    sample.report(path)
    open_report(browser, path)
    by_model = {r["priced_model"]: r["total_cost"] for r in sample.summary("priced_model").to_pylist()}
    Select(browser.find_element(By.ID, "filter-model")).select_by_visible_text("gpt-4o")
    assert text_of(browser, "kpi-total-cost") == display_usd(by_model["gpt-4o"])
    Select(browser.find_element(By.ID, "filter-model")).select_by_value("-1")
    months = {r["period"].isoformat(): r["total_cost"] for r in sample.summary(period="month").to_pylist()}
    # One month, by the date inputs (set as a person would, then the change event).
    browser.execute_script(
        "for (const [id, v] of [['filter-from', arguments[0]], ['filter-to', arguments[1]]]) {"
        " const e = document.getElementById(id); e.value = v; e.dispatchEvent(new Event('change')); }",
        "2025-03-01",
        "2025-03-31",
    )
    assert text_of(browser, "kpi-total-cost") == display_usd(months["2025-03-01"])
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_a_run_that_priced_nothing_still_draws(browser: Any, tmp_path: Path) -> None:
    logs = tokenprice.price_logs([{"model": "no-such-model", "usage": {"prompt_tokens": 3, "completion_tokens": 1}}])
    assert (logs.rows_priced, logs.rows_rejected) == (0, 1)
    path = tmp_path / "empty.html"
    logs.report(path)
    open_report(browser, path)
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    assert text_of(browser, "kpi-total-cost") == "$0.00"
    assert text_of(browser, "kpi-rejected") == "1"
    reason = logs.rejects.column("reason")[0].as_py()
    assert reason[:40] in text_of(browser, "table-rejects")

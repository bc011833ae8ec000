"""`tokenprice.sources.cloudflare` and `tokenprice pull cloudflare` against a local Logs API (tests/cloudflare_api.py,
whose module text cites the API's shapes): complete, exact, resumable after a SIGKILL, windows honoured, records
created while pulling neither lost nor doubled, failures retried then reported, and the token shown nowhere."""

from __future__ import annotations

import gzip
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import zstandard

import tokenprice
from tokenprice.cli import main
from tokenprice.sources import cloudflare

from cloudflare_api import LogsApi, gateway_records, stamp

TOKEN = "cfTok3n-Sup3r/Secret+value"
START = datetime(2026, 12, 1, 21, 0, tzinfo=timezone.utc)
ROOT = Path(__file__).resolve().parent.parent


def records(n: int = 80, step: timedelta = timedelta(minutes=2), first_id: int = 0) -> list[dict[str, Any]]:
    return gateway_records(n, START, step, first_id=first_id)


def read_pulled(paths: list[str]) -> list[dict[str, Any]]:
    out = []
    for p in paths:
        if p.endswith(".gz"):
            text = gzip.decompress(Path(p).read_bytes()).decode()
        else:
            text = zstandard.ZstdDecompressor().decompressobj().decompress(Path(p).read_bytes()).decode()
        out += [json.loads(line) for line in text.splitlines()]
    return out


def pull(api: LogsApi, out: Path, waits: list[float] | None = None, **kw: Any) -> Any:
    kw.setdefault("per_page", 7)
    kw.setdefault("flush_every", 15)
    return cloudflare(
        api.account,
        api.gateway,
        token=kw.pop("token", TOKEN),
        out=out,
        base_url=api.base_url,
        sleep=(waits if waits is not None else []).append,
        **kw,
    )


def assert_exactly(pulled: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    ids = Counter(r["id"] for r in pulled)
    assert not [i for i, n in ids.items() if n > 1], "a record was written twice"
    assert sorted(pulled, key=lambda r: r["id"]) == sorted(expected, key=lambda r: r["id"])


def test_a_pull_is_complete_exact_and_retries_429_500_and_broken_bodies(tmp_path) -> None:
    recs = records(80, step=timedelta(minutes=3))  # 21:00 to 01:00: two days
    waits: list[float] = []
    faults = {2: "429", 3: "500", 5: "truncated", 6: "html"}
    with LogsApi(recs, token=TOKEN, faults=faults) as api:
        result = pull(api, tmp_path / "out", waits)
        queries = api.requests
    pulled = read_pulled(result.paths)
    assert_exactly(pulled, recs)
    assert result.written == len(recs) and result.retries == 4
    # Retry-After: 3 was honoured as given; the others backed off exponentially per request (1, 2, 4 s... on the
    # injected clock): the 500 was its page's second try, the truncated and HTML bodies the first two of theirs.
    assert waits == [3.0, 2.0, 1.0, 2.0]
    # The documented query: ascending created_at, each window from the last record written.
    first = queries[0]
    assert first["order_by"] == ["created_at"] and first["order_by_direction"] == ["asc"]
    assert first["per_page"] == ["7"] and "start_date" not in first
    assert any(q.get("start_date") == [recs[6]["created_at"]] for q in queries)
    # Partitioned by day, each file named by its day, records in it of that day only.
    days = {Path(p).parent.name for p in result.paths}
    assert days == {"2026-12-01", "2026-12-02"}
    for p in result.paths:
        assert all(r["created_at"].startswith(Path(p).parent.name) for r in read_pulled([p]))
    # Exact: the files price to the same totals, counts and rejects as the records given directly.
    direct = tokenprice.price_logs([json.dumps(r) for r in recs], by="tenant")
    via = result.price_logs(by="tenant")
    assert via.total_cost == direct.total_cost and via.total_cost > 0
    assert (via.rows_read, via.rows_priced, via.rows_rejected) == (
        direct.rows_read,
        direct.rows_priced,
        direct.rows_rejected,
    )
    assert via.rows_rejected >= 2  # the successes logged without usage, rejected with their reason
    assert all("no usage" in r for r in via.rejects.column("reason").to_pylist())
    assert via.last_summary.to_pylist() == direct.last_summary.to_pylist()
    # Read by the cloudflare_logs format with no options: labels, cache hits and errors as the format reads them.
    table = via.table.to_pylist()
    assert {r["tenant"] for r in table} == {"acme", "globex", "initech"}
    assert any(r["cache_hit"] for r in table) and any(r["status"] == "error" for r in table)
    lines = [line for p in result.paths for line in gzip.decompress(Path(p).read_bytes()).decode().splitlines()]
    read = []
    for line in lines:
        try:
            read.append(tokenprice.extract_usage(line).format)
        except tokenprice.UsageFormatError as e:
            assert "cloudflare_logs: a successful request with no usage" in str(e)
    assert set(read) == {"cloudflare_logs"} and len(read) == direct.rows_priced


def test_a_second_run_writes_nothing_new_and_continues_with_new_records(tmp_path) -> None:
    recs = records(30)
    with LogsApi(recs, token=TOKEN) as api:
        first = pull(api, tmp_path)
        again = pull(api, tmp_path)
        assert again.written == 0 and again.new_paths == [] and again.paths == first.paths
        later = gateway_records(9, START + timedelta(days=1), timedelta(minutes=1), first_id=500)
        api.add(later)
        third = pull(api, tmp_path)
    assert third.written == 9
    assert_exactly(read_pulled(third.paths), recs + later)
    state = json.loads(Path(third.state).read_text())
    assert state["cursor"] == later[-1]["created_at"] and state["written"] == 39


def test_records_created_while_pulling_are_neither_lost_nor_doubled(tmp_path) -> None:
    recs = records(40)
    added: list[dict[str, Any]] = []

    def before(n: int, query: dict[str, list[str]]) -> None:
        # Between pages the gateway logs new calls: at the end (now), and one at the very instant of the last record.
        if n in (2, 4, 6):
            new = gateway_records(
                3, START + timedelta(hours=5, minutes=n), timedelta(seconds=1), first_id=1000 + 10 * n
            )
            added.extend(new)
            api.add(new)
        if n == 3:
            twin = dict(recs[-1], id="01KCFTWIN0000000000000000")
            added.append(twin)
            api.add([twin])

    with LogsApi(recs, token=TOKEN, before=before) as api:
        result = pull(api, tmp_path, per_page=6)
    assert len(added) == 10
    assert_exactly(read_pulled(result.paths), recs + added)


def test_many_records_at_one_instant_span_pages_without_loss(tmp_path) -> None:
    recs = records(10)
    same = [dict(r, id=f"01KCFSAME{i:016d}", created_at=recs[4]["created_at"]) for i, r in enumerate(records(17))]
    with LogsApi(recs + same, token=TOKEN) as api:
        result = pull(api, tmp_path, per_page=5, flush_every=4)
        assert any(q["page"] != ["1"] for q in api.requests)  # the instant held more than a page: page went up
    assert_exactly(read_pulled(result.paths), recs + same)


def test_since_and_until_are_honoured(tmp_path) -> None:
    recs = records(60)
    since, until = START + timedelta(minutes=30), START + timedelta(minutes=90)
    with LogsApi(recs, token=TOKEN) as api:
        result = pull(api, tmp_path, since=since, until=until.isoformat())
        assert api.requests[0]["start_date"] == ["2026-12-01T21:30:00Z"]
        assert api.requests[0]["end_date"] == ["2026-12-01T22:30:00Z"]
    want = [r for r in recs if stamp(since) <= r["created_at"] < stamp(until)]
    assert len(want) == 30
    assert_exactly(read_pulled(result.paths), want)


def test_filters_are_sent_and_checked(tmp_path) -> None:
    recs = records(30)
    with LogsApi(recs, token=TOKEN) as api:
        result = pull(api, tmp_path, filters={"provider": "openai", "success": True})
        assert api.requests[0]["provider"] == ["openai"] and api.requests[0]["success"] == ["true"]
        with pytest.raises(tokenprice.InvalidArgumentError, match="pulled with filters"):
            pull(api, tmp_path, filters={"provider": "anthropic"})
    assert_exactly(read_pulled(result.paths), [r for r in recs if r["provider"] == "openai" and r["success"]])
    with pytest.raises(tokenprice.InvalidArgumentError, match="not a filter of the Logs API list"):
        cloudflare("acct", "gw", token=TOKEN, out=tmp_path / "x", filters={"page": 3})


def test_zstd_output(tmp_path) -> None:
    recs = records(20)
    with LogsApi(recs, token=TOKEN) as api:
        result = pull(api, tmp_path, compression="zstd")
    assert result.paths and all(p.endswith(".jsonl.zst") for p in result.paths)
    assert_exactly(read_pulled(result.paths), recs)
    assert result.price_logs().total_cost == tokenprice.price_logs([json.dumps(r) for r in recs]).total_cost


def test_persistent_failures_end_with_a_clear_error_and_no_checkpoint_past_them(tmp_path) -> None:
    recs = records(20)
    waits: list[float] = []
    with LogsApi(recs, token=TOKEN, faults={n: "500" for n in range(3, 20)}) as api:
        with pytest.raises(tokenprice.InputError, match=r"gave up after 4 attempts: HTTP 500: 10001 Internal server"):
            pull(api, tmp_path, waits, max_retries=3, flush_every=1)
        assert waits == [1.0, 2.0, 4.0]
    # What was pulled before the failure is written and checkpointed; a rerun completes it.
    with LogsApi(recs, token=TOKEN) as api:
        result = pull(api, tmp_path)
    assert_exactly(read_pulled(result.paths), recs)
    # A refusal (4xx other than 429) is not retried.
    with LogsApi(recs, token="another") as api, pytest.raises(tokenprice.InputError, match="HTTP 401: 10000 Auth"):
        pull(api, tmp_path / "other", waits)
        assert len(api.requests) == 1


def test_the_token_is_shown_nowhere(tmp_path, caplog, monkeypatch, capsys) -> None:
    recs = records(25)
    caplog.set_level(logging.DEBUG, logger="tokenprice")
    # A hostile server echoes the Authorization header in its error message.
    with LogsApi(recs, token="the-right-one", echo_token_in_errors=True) as api:
        with pytest.raises(tokenprice.InputError) as err:
            pull(api, tmp_path / "denied")
    assert TOKEN not in str(err.value) and "***" in str(err.value)
    assert err.value.__cause__ is None and err.value.__context__ is None or TOKEN not in repr(err.value.__context__)
    with LogsApi(recs, token=TOKEN, faults={2: "429", 3: "500"}) as api:
        result = pull(api, tmp_path / "ok")
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    monkeypatch.setenv("CF_TEST_TOKEN", TOKEN)
    with LogsApi(recs, token=TOKEN) as api:
        code = main(
            [
                "pull",
                "cloudflare",
                api.account,
                api.gateway,
                "-o",
                str(tmp_path / "cli"),
                "--token-file",
                str(token_file),
                "--base-url",
                api.base_url,
                "--verify",
                "--json",
            ]
        )
        code2 = main(
            [
                "pull",
                "cloudflare",
                api.account,
                api.gateway,
                "-o",
                str(tmp_path / "cli2"),
                "--token-env",
                "CF_TEST_TOKEN",
                "--base-url",
                api.base_url,
                "--per-page",
                "3",
            ]
        )
    assert code == 0 and code2 == 0
    shown = capsys.readouterr()
    everything = [repr(result), str(result), shown.out, shown.err, *(r.getMessage() for r in caplog.records)]
    for folder in ("ok", "cli", "cli2", "denied"):
        for path in (tmp_path / folder).rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                everything.append(gzip.decompress(data).decode() if path.suffix == ".gz" else data.decode())
    assert len(caplog.records) > 5
    for text in everything:
        assert TOKEN not in text


KILL_SCRIPT = """
import sys
from tokenprice.sources import cloudflare
cloudflare(sys.argv[1], sys.argv[2], token_env="CF_TEST_TOKEN", out=sys.argv[3], base_url=sys.argv[4], per_page=4,
           flush_every=6, sleep=lambda s: None)
"""


def test_a_pull_killed_mid_run_resumes_without_loss_duplicates_or_half_files(tmp_path) -> None:
    recs = records(120, step=timedelta(minutes=1))
    out = tmp_path / "out"
    env = {**os.environ, "CF_TEST_TOKEN": TOKEN}
    kills = 0
    with LogsApi(recs, token=TOKEN, delay=0.01) as api:
        # Kill it three times at different points, each time after it has written at least one more file.
        for _ in range(3):
            before = {p.name for p in out.rglob("*.jsonl.gz")} if out.exists() else set()
            child = subprocess.Popen(
                [sys.executable, "-c", KILL_SCRIPT, api.account, api.gateway, str(out), api.base_url], env=env
            )
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and child.poll() is None:
                now = {p.name for p in out.rglob("*.jsonl.gz")} if out.exists() else set()
                if len(now - before) >= 2:
                    break
                time.sleep(0.005)
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
                kills += 1
            child.wait(timeout=30)
        assert kills >= 1, "the pull finished before it could be killed"
        state = json.loads(next(out.glob(".tokenprice-cloudflare-*.json")).read_text())
        assert 0 < state["written"] < len(recs)
        result = pull(api, out, per_page=4, flush_every=6)
    pulled = read_pulled(result.paths)
    assert_exactly(pulled, recs)
    assert not list(out.rglob("*.tmp")), "a temporary file was left"
    for p in result.paths:  # every file is whole: gzip's trailer checks its length and CRC
        gzip.decompress(Path(p).read_bytes())
    assert result.price_logs().total_cost == tokenprice.price_logs([json.dumps(r) for r in recs]).total_cost


def test_files_past_the_checkpoint_and_temporaries_are_removed_and_pulled_again(tmp_path) -> None:
    recs = records(30)
    with LogsApi(recs, token=TOKEN) as api:
        # A pull in slices: two pages of 7, the second starting at the first's last record (13 records).
        first = pull(api, tmp_path, max_pages=2, flush_every=100)
        assert first.written == 13
        # A kill after a file was renamed and before the state moved: the file is numbered past the checkpoint.
        state = json.loads(Path(first.state).read_text())
        day = Path(first.paths[0]).parent
        orphan = day / f"{api.gateway}-{state['next_seq']:06d}.jsonl.gz"
        orphan.write_bytes(gzip.compress((json.dumps(recs[13]) + "\n").encode()))
        (day / f".{api.gateway}-{state['next_seq']:06d}.jsonl.gz.tmp").write_bytes(b"\x1f\x8b half")
        result = pull(api, tmp_path)
    assert_exactly(read_pulled(result.paths), recs)
    assert not list(tmp_path.rglob("*.tmp"))


def test_bad_arguments_are_named(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN", raising=False)
    with pytest.raises(tokenprice.InvalidArgumentError, match="environment variable CLOUDFLARE_API_TOKEN"):
        cloudflare("acct", "gw", out=tmp_path)
    with pytest.raises(tokenprice.InvalidArgumentError, match="since .* must be before until"):
        cloudflare("acct", "gw", token=TOKEN, out=tmp_path, since="2026-12-02", until="2026-12-01")
    with pytest.raises(tokenprice.InvalidArgumentError, match="gateway_id '../x'"):
        cloudflare("acct", "../x", token=TOKEN, out=tmp_path)
    with pytest.raises(tokenprice.InvalidArgumentError, match="compression must be"):
        cloudflare("acct", "gw", token=TOKEN, out=tmp_path, compression="lz4")
    with pytest.raises(tokenprice.InvalidArgumentError, match=r"token \(given\) holds a space") as err:
        cloudflare("acct", "gw", token="tok\nen", out=tmp_path)
    assert "tok\nen" not in str(err.value)
    with pytest.raises(tokenprice.InvalidArgumentError, match="not an ISO 8601"):
        cloudflare("acct", "gw", token=TOKEN, out=tmp_path, since="yesterday")


def test_numbers_are_written_back_digit_for_digit() -> None:
    # A cost with more digits than a float holds is written as the API sent it, not rounded through a float.
    from tokenprice.sources._cloudflare import _json_text

    page = '{"cost": 0.00266200000000000001, "n": [1, 2.50, -3e-7], "s": "caf\\u00e9 \\"q\\"", "ok": true, "x": null}'
    assert _json_text(json.loads(page, parse_float=Decimal)) == (
        '{"cost":0.00266200000000000001,"n":[1,2.50,-3E-7],"s":"café \\"q\\"","ok":true,"x":null}'
    )


def test_cli_pull_prints_what_it_did_and_verify_prints_mismatches(tmp_path, capsys) -> None:
    recs = records(40, step=timedelta(minutes=5))
    recs[3]["cost"] = 1.25  # the gateway over-reported one call
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    with LogsApi(recs, token=TOKEN) as api:
        args = [
            "pull",
            "cloudflare",
            api.account,
            api.gateway,
            "-o",
            str(tmp_path / "out"),
            "--token-file",
            str(token_file),
            "--base-url",
            api.base_url,
            "--per-page",
            "9",
            "--since",
            "2026-12-01",
        ]
        assert main(args) == 0
        out = capsys.readouterr().out
        assert "40 new records" in out and "2 new files" in out and "last created_at 2026-12-02T00:15:00.000Z" in out
        assert main([*args, "--verify"]) == 0
        text = capsys.readouterr().out
        assert "0 new records" in text and "mismatches" in text and recs[3]["id"] in text
        assert main([*args, "--verify", "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
    assert data["written"] == 0 and len(data["paths"]) >= 2
    # The Python equivalent of --verify.
    with LogsApi(recs, token=TOKEN) as api:
        rec = pull(api, tmp_path / "py").reconcile()
    assert rec.mismatches.num_rows == data["reconciliation"]["mismatches"]
    assert recs[3]["id"] in rec.mismatches.column("id").to_pylist()
    assert data["reconciliation"]["mismatches"] >= 1
    assert recs[3]["id"] in [m["id"] for m in data["reconciliation"]["mismatch_rows"]]
    # An error is one line on stderr, status 2.
    assert (
        main(["pull", "cloudflare", "acct", "gw", "-o", str(tmp_path / "x"), "--token-file", str(tmp_path / "missing")])
        == 2
    )
    assert "cannot read the file" in capsys.readouterr().err


def test_a_page_size_capped_without_saying_is_followed_by_total_count(tmp_path) -> None:
    recs = records(30)
    with LogsApi(recs, token=TOKEN, cap=4) as api:
        result = pull(api, tmp_path, per_page=10)
    assert_exactly(read_pulled(result.paths), recs)


def test_redirects_are_not_followed_with_the_token(tmp_path) -> None:
    with LogsApi(records(5), token=TOKEN, faults={1: "redirect"}) as api:
        with pytest.raises(tokenprice.InputError, match="HTTP 302"):
            pull(api, tmp_path)
        assert len(api.requests) == 1  # /elsewhere was never asked for


def test_two_pulls_into_one_folder_do_not_run_at_once(tmp_path) -> None:
    import fcntl

    with LogsApi(records(5), token=TOKEN) as api:
        pull(api, tmp_path)
        lock = next(tmp_path.glob(".tokenprice-cloudflare-*.lock"))
        with open(lock) as held:
            fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            with pytest.raises(tokenprice.InputError, match="another pull of this gateway into this folder"):
                pull(api, tmp_path)
        assert pull(api, tmp_path).written == 0


def test_a_page_out_of_order_and_a_server_ignoring_start_date_lose_nothing(tmp_path, caplog) -> None:
    recs = records(30)
    with LogsApi(recs, token=TOKEN, unordered=True) as api:
        result = pull(api, tmp_path / "unordered")
    assert_exactly(read_pulled(result.paths), recs)
    assert result.early == 0
    caplog.set_level(logging.WARNING, logger="tokenprice")
    with LogsApi(recs, token=TOKEN, ignore_start=True) as api:
        result = pull(api, tmp_path / "no-start")
    assert_exactly(read_pulled(result.paths), recs)
    assert result.early > 0
    assert any("before the window's start_date" in r.getMessage() for r in caplog.records)

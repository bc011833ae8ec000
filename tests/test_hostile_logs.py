"""Hostile inputs to the log pipeline (`price_logs`, `PricedLogs`, the readers, the spill, paths) and the CLI, each
run in a child process under a memory limit and a timeout (`hostile.run_case`): compressed bombs, endless lines,
huge arrays, shared and booby-trapped spill folders, odd file names, impossible times, malformed records, bad
arguments. Sizes stay small enough for CI while still proving each bound (peak memory far below the bytes read)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hostile import run_case

# Writes `path`: gzip of `total` bytes made by repeating `unit` (streamed through zlib: never held whole).
GZIP_OF = """
import zlib
def gzip_of(path, unit, total, head=b"", tail=b""):
    c = zlib.compressobj(1, zlib.DEFLATED, 31)
    with open(path, "wb") as f:
        f.write(c.compress(head))
        block = unit * max(1, (1 << 20) // len(unit))
        done = 0
        while done < total:
            f.write(c.compress(block))
            done += len(block)
        f.write(c.compress(tail))
        f.write(c.flush())
    return done + len(head) + len(tail)
"""

LINE = (
    '{"id":"x","created_at":"2025-03-01T00:00:00Z","provider":"openai","model":"gpt-4o-mini",'
    '"tokens_in":100,"tokens_out":20,"metadata":"{\\"tenant\\": \\"acme\\"}"}'
)


def test_a_gzip_bomb_of_nul_bytes_is_one_reject_in_bounded_memory(tmp_path: Path) -> None:
    # 512 MB of NUL bytes, no line end: one line past the cap, skipped as it is read (once, not rescanned).
    out = run_case(
        GZIP_OF
        + f"""
import json, tokenprice
n = gzip_of({str(tmp_path / "nul.gz")!r}, b"\\0", 1 << 30)
r = tokenprice.price_logs({str(tmp_path / "nul.gz")!r}, by="tenant", keep_rows=False, max_line_bytes=16 << 20)
print(json.dumps([n, r.rows_read, r.rows_rejected, r.rejects.column("reason").to_pylist()]))
""",
        limit_mb=4096,
    )
    n, read, rejected, reasons = out.json()  # type: ignore[misc]
    assert (read, rejected) == (1, 1)
    assert f"a line of {n} bytes, longer than the limit of {16 << 20} bytes" in reasons[0]
    # The bound: under 1 GB. Read whole, the line alone would take its 1 GiB (the old reader: 2 GB and more).
    assert out.peak_mb < 1000, out.peak_mb


def test_the_default_cap_reads_a_60_mb_line_and_a_lower_one_rejects_it(tmp_path: Path) -> None:
    out = run_case(f"""
import json, tokenprice
path = {str(tmp_path / "big.jsonl")!r}
pad = "x" * (60 * 1000 * 1000)
with open(path, "w") as f:
    f.write({LINE!r}[:-1] + ',"pad":"' + pad + '"}}\\n' + {LINE!r} + "\\n")
whole = tokenprice.price_logs(path)
capped = tokenprice.price_logs(path, max_line_bytes=1_000_000)
print(json.dumps([whole.rows_priced, whole.rows_rejected, capped.rows_priced,
                  capped.rejects.to_pylist()[0]["line"], capped.rejects.to_pylist()[0]["reason"]]))
""")
    priced, rejected, capped_priced, line, reason = out.json()  # type: ignore[misc]
    assert (priced, rejected, capped_priced, line) == (2, 0, 1, 1)
    assert "longer than the limit of 1000000 bytes" in reason and "max_line_bytes" in reason


def test_spilling_is_decided_on_bytes_read_not_the_compressed_size(tmp_path: Path) -> None:
    # ~300 MB of lines in a gzip of a few MB: past the 256 MB threshold once decompressed, so the rows spill.
    out = run_case(
        GZIP_OF
        + f"""
import json, os, tokenprice
path = {str(tmp_path / "lines.jsonl.gz")!r}
n = gzip_of(path, {LINE!r}.encode() + b"\\n", 300 << 20)
r = tokenprice.price_logs(path, spill_dir={str(tmp_path / "spill")!r})
print(json.dumps([n, os.path.getsize(path), r.rows_priced, len(r._spilled), str(r.total_cost)]))
""",
        limit_mb=6144,
        timeout=300,
    )
    n, size, priced, spilled, _ = out.json()  # type: ignore[misc]
    assert size < 32 << 20 < n
    assert priced > 1_000_000 and spilled > 0
    assert out.peak_mb < 1024, out.peak_mb


def test_a_large_json_array_streams_element_by_element(tmp_path: Path) -> None:
    record = LINE.encode()
    out = run_case(
        GZIP_OF
        + f"""
import json, tokenprice
path = {str(tmp_path / "array.json.gz")!r}
n = gzip_of(path, {record!r} + b",\\n", 512 << 20, head=b"[\\n", tail={record!r} + b"\\n]\\n")
r = tokenprice.price_logs(path, by="tenant", keep_rows=False)
print(json.dumps([n, r.rows_read, r.rows_rejected, str(r.total_cost)]))
""",
        timeout=300,
    )
    n, read, rejected, _ = out.json()  # type: ignore[misc]
    assert rejected == 0 and read == (n - 4) // (len(record) + 2) + 1
    # The bound: under 1 GB. Read whole, the array alone would take its 512 MB and its parse several times
    # that (the old reader: 3.5 GB for 1 GiB).
    assert out.peak_mb < 1000, out.peak_mb


def test_runs_sharing_a_spill_dir_and_a_planted_link(tmp_path: Path) -> None:
    logs = tmp_path / "logs.jsonl"
    logs.write_text((LINE + "\n") * 20_000)
    spill = tmp_path / "spill"
    spill.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    for i in range(3):
        (spill / f"part-{i:05}.arrow").symlink_to(victim)
    code = f"""
import json, threading, tokenprice
def run():
    r = tokenprice.price_logs({str(logs)!r}, spill=True, spill_dir={str(spill)!r})
    return [r.rows_priced, str(r.total_cost), r.table.num_rows]
one = run()
got = []
threads = [threading.Thread(target=lambda: got.append(run())) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps([one, got]))
"""
    first = run_case(code)
    second = run_case(code)
    for out in (first, second):
        one, got = out.json()  # type: ignore[misc]
        assert one[0] == 20_000 and got == [one] * 4
    assert victim.read_text() == "keep me"
    # Two processes at once on the same folder.
    import subprocess

    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (stdout, stderr) in zip(procs, outs, strict=True):
        assert p.returncode == 0, stderr
        one, got = json.loads(stdout.splitlines()[-1])
        assert got == [one] * 4
    assert victim.read_text() == "keep me"
    # Every run removed its own folder; only the planted links are left.
    assert sorted(p.name for p in spill.iterdir()) == [f"part-{i:05}.arrow" for i in range(3)]


def test_file_names_with_glob_characters_and_linked_folders(tmp_path: Path) -> None:
    for name in ("day[1].jsonl", "{t}.jsonl", "*"):
        (tmp_path / name).write_text(LINE + "\n")
    (tmp_path / "day1.jsonl").write_text((LINE + "\n") * 5)
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "a.jsonl").write_text((LINE + "\n") * 3)
    (tmp_path / "sub" / "loop").symlink_to(sub, target_is_directory=True)
    out = run_case(f"""
import json, tokenprice
d = {str(tmp_path)!r}
counts = [tokenprice.price_logs(d + "/" + name).rows_read for name in ("day[1].jsonl", "{{t}}.jsonl", "*")]
both = tokenprice.price_logs([d + "/day[1].jsonl", d + "/day[1].jsonl"]).rows_read
rec = tokenprice.price_logs(d + "/sub/**/*.jsonl").rows_read
print(json.dumps([counts, both, rec]))
""")
    assert out.json() == [[1, 1, 1], 1, 3]


def test_times_outside_python_and_arrow_are_rejects(tmp_path: Path) -> None:
    lines = [LINE]
    for value in ('"0000-06-01T00:00:00Z"', "1e22", "-1e21", '"9999-12-31T23:00:00-05:00"', "-99999999999", "1e300"):
        lines.append(LINE.replace('"2025-03-01T00:00:00Z"', value))
    path = tmp_path / "times.jsonl"
    path.write_text("\n".join(lines) + "\n")
    out = run_case(f"""
import json, tokenprice
r = tokenprice.price_logs({str(path)!r})
general = tokenprice.price_logs({str(path)!r}, provider="openai")  # hints: the general path, not the lane
rows = r.table.to_pylist()
r.write({str(tmp_path / "out.parquet")!r})
r.reconcile()
print(json.dumps([r.rows_priced, r.rejects.column("reason").to_pylist(), general.rows_priced]))
""")
    priced, reasons, general = out.json()  # type: ignore[misc]
    assert priced == 1 and general == 1 and len(reasons) == 6
    assert all("created_at" in why for why in reasons), reasons
    assert all("outside the years 1 to 9999" in why for why in reasons[:5]), reasons


def test_malformed_usage_and_metadata_are_rejects_in_the_lane_and_the_general_path(tmp_path: Path) -> None:
    chat = '{"id":"c","created":1735689600,"model":"gpt-4o","object":"chat.completion","usage":%s}'
    lines = [
        LINE,
        chat % '{"prompt_tokens":10,"completion_tokens":5,"cost":NaN}',
        LINE.replace('"{\\"tenant\\": \\"acme\\"}"', '"not json"'),
        LINE.replace('"{\\"tenant\\": \\"acme\\"}"', '"[1, 2]"'),
        LINE.replace('"{\\"tenant\\": \\"acme\\"}"', "[1, 2]"),
        LINE.replace('"{\\"tenant\\": \\"acme\\"}"', '"\\"bare\\""'),
        LINE.replace('"{\\"tenant\\": \\"acme\\"}"', '""'),
    ]
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join(lines) + "\n")
    out = run_case(f"""
import json, tokenprice
lane = tokenprice.price_logs({str(path)!r})
general = tokenprice.price_logs({str(path)!r}, provider="openai")
def seen(r):
    return [r.table.column("line").to_pylist(), {{x["line"]: x["reason"] for x in r.rejects.to_pylist()}}]
print(json.dumps([seen(lane), seen(general)]))
""")
    (lane_lines, lane_why), (general_lines, general_why) = out.json()  # type: ignore[misc]
    assert lane_lines == general_lines == [1, 7]
    assert lane_why == general_why
    assert "not valid JSON" in lane_why["2"]
    for line in ("3", "4", "5", "6"):
        assert "metadata" in lane_why[line], lane_why


def test_costs_past_what_a_decimal128_holds_are_errors_never_wrapped_sums(tmp_path: Path) -> None:
    """A reported cost of 10^20 USD or more is a reject (it was shown as null and left out of sums); costs that
    each fit but whose sum does not are an error naming the group or column, in the core's totals and in the
    summaries of kept rows (Arrow's decimal128 sums wrapped: three costs of 9e19 USD summed to -7.0e19)."""
    big = LINE.replace('"tokens_out":20,', '"tokens_out":20,"cost":"90000000000000000000",')
    lines = [big, big, big, LINE.replace('"tokens_out":20,', '"tokens_out":20,"cost":1e21,')]
    path = tmp_path / "costs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    out = run_case(f"""
import json, tokenprice, pyarrow as pa
from decimal import Decimal
from tokenprice import _batches, _sums
def error(f):
    try:
        f()
    except tokenprice.TokenPriceError as e:
        return type(e).__name__ + ": " + str(e)
rows = tokenprice.price_logs({str(path)!r})
why = [x["reason"] for x in rows.rejects.to_pylist()]
table = pa.table({{"total_cost": pa.array([Decimal("9e19")] * 3, pa.decimal128(38, 18))}})
wide = _sums.summable(table, ["total_cost"])
print(json.dumps([
    rows.rows_priced, why,
    error(lambda: rows.summary("tenant")),
    error(lambda: tokenprice.price_logs({str(path)!r}, by="tenant", keep_rows=False)),
    str(wide.schema.field("total_cost").type),
    str(pa.compute.sum(wide.column("total_cost")).as_py()),
    error(lambda: _sums.narrowed(wide.group_by([]).aggregate([("total_cost", "sum")]).rename_columns(["total_cost"]), ["total_cost"])),
    str(_sums.summable(table.slice(0, 1), ["total_cost"]).schema.field("total_cost").type),
    str(_batches.total(table)),
]))
""")
    priced, why, summary, totals, wide_type, wide_sum, narrowed, narrow_type, engines = out.json()  # type: ignore[misc]
    assert priced == 3 and len(why) == 1 and "cost: 1e21 is 10^20 or more" in why[0], why
    assert summary.startswith("InvalidArgumentError: reported_cost: a sum reaches 10^20 USD"), summary
    assert totals.startswith("InvalidArgumentError: the costs of the group [tenant=acme] add up to 10^20"), totals
    assert wide_type == "decimal256(76, 18)" and wide_sum == "270000000000000000000.000000000000000000"
    assert narrowed.startswith("InvalidArgumentError: total_cost: a sum reaches 10^20 USD"), narrowed
    # One row cannot overflow: left as it is. The engines' totals sum exactly too.
    assert narrow_type == "decimal128(38, 18)"
    assert engines == "270000000000000000000.000000000000000000", engines


def test_bad_arguments_raise_tokenprice_errors_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(LINE + "\n" + LINE.replace("gpt-4o-mini", "no-such-model") + "\n")
    (tmp_path / "good.jsonl").write_text(LINE + "\n")
    (tmp_path / "bad.jsonl").write_text('{"no": "usage"}\n')
    out = run_case(f"""
import json, os, tokenprice
p = {str(path)!r}
found = {{}}
def trying(name, f):
    try:
        f()
        found[name] = "ok"
    except tokenprice.TokenPriceError as e:
        found[name] = [type(e).__name__, isinstance(e, TypeError), str(e)]
trying("format", lambda: tokenprice.price_logs(p, format="cloudflare"))
trying("progress", lambda: tokenprice.price_logs(p, progress=5))
logs = tokenprice.price_logs(p)
trying("tolerance", lambda: logs.reconcile(tolerance=("abc", "0.01")))
trying("tolerance-shape", lambda: logs.reconcile(tolerance=5))
trying("folder", lambda: logs.write({str(tmp_path / "missing" / "out.csv")!r}))
logs.write({str(tmp_path / "out.csv")!r})
before = os.path.exists({str(tmp_path / "out.rejects.csv")!r})
tokenprice.price_logs({str(tmp_path / "good.jsonl")!r}).write({str(tmp_path / "out.csv")!r})
after = os.path.exists({str(tmp_path / "out.rejects.csv")!r})
nothing = tokenprice.price_logs({str(tmp_path / "bad.jsonl")!r}, by="tenant")
empty = [nothing.last_summary.num_rows, nothing.rows_rejected, nothing.last_summary.column_names[:1]]
print(json.dumps([found, before, after, empty]))
""")
    found, before, after, empty = out.json()  # type: ignore[misc]
    assert found["format"][0] == "InvalidArgumentError" and "cloudflare_logs" in found["format"][2]
    assert found["progress"][:2] == ["InvalidTypeError", True]
    assert found["tolerance"][0] == "InvalidArgumentError" and "abc" in found["tolerance"][2]
    assert found["tolerance-shape"][0] == "InvalidArgumentError"
    assert found["folder"][0] == "InputError" and "missing" in found["folder"][2]
    assert before and not after
    assert empty == [0, 1, ["tenant"]]


def _cli(args: list[str], cwd: Path) -> tuple[int, str]:
    out = run_case("", args=[sys.executable, "-m", "tokenprice.cli", *args], expect_ok=False, cwd=cwd)
    assert "Traceback" not in out.stderr, out.stderr
    return out.returncode, out.stderr


def test_the_cli_prints_one_line_and_the_right_status(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(LINE + "\n")
    (tmp_path / "bad.jsonl").write_text('{"no": "usage"}\n')
    (tmp_path / "empty.jsonl").write_text("")
    status, err = _cli(["price", "a.jsonl", "--format", "cloudflare"], tmp_path)
    assert status == 2 and err.startswith("tokenprice: error: unknown format") and len(err.splitlines()) == 1
    status, err = _cli(["price", "bad.jsonl", "--by", "tenant"], tmp_path)
    assert status == 1 and "nothing priced" in err and "rejected:" in err
    status, err = _cli(["price", "empty.jsonl"], tmp_path)
    assert status == 0, err
    status, err = _cli(["price", "missing.jsonl"], tmp_path)
    assert status == 2 and len(err.splitlines()) == 1 and "missing.jsonl" in err
    status, err = _cli(["price", "a.jsonl", "--out", "nowhere/out.csv"], tmp_path)
    assert status == 2 and len(err.splitlines()) == 1 and "nowhere" in err
    # An unexpected exception: one line naming its type, status 2.
    out = run_case(
        """
import sys, tokenprice._ledger as L
from tokenprice import cli
def boom(*a, **k):
    raise RuntimeError("disk on fire\\nsecond line")
L.price_logs = boom
sys.exit(cli.main(["price", "a.jsonl"]))
""",
        expect_ok=False,
        cwd=tmp_path,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip() == "tokenprice: error: RuntimeError: disk on fire second line"

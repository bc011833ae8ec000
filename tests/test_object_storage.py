"""price_logs over object storage, against a real S3 server (moto's, on 127.0.0.1 and a free port): listing,
streaming, Logpush date folders and names skipped unread, results and rejects equal to pricing the same files
locally, R2 by its endpoint, and credentials absent from every error."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
from pathlib import Path
from typing import Any

import pytest
from storage_cases import KEY, SECRET, logpush_objects, put, record, s3_client, s3_server, storage_options

import tokenprice
from tokenprice import _storage
from tokenprice._ledger import LogOptions

DAYS = [dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 3)]
# A line that is not JSON, and a record whose body Logpush encrypted (cloudflare-docs logpush.mdx; the shape of
# tests/fixtures/sources/cloudflare/gateway_records.json): both rejects.
ENCRYPTED = {"type": "encrypted", "data": "ZW5jcnlwdGVkLWJvZHk="}
BAD = [
    "not json",
    json.dumps({**record(0, dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)), "ResponseBody": ENCRYPTED}),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The server, a bucket `logs` holding three days of Logpush objects under `gateway/`, and the same objects
    as local files."""
    pytest.importorskip("moto")
    objects = logpush_objects("gateway/", DAYS, per_day=2, lines=40, extra=BAD)
    local = tmp_path_factory.mktemp("logpush")
    for key, body in objects.items():
        path = local / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    with s3_server() as endpoint:
        client = s3_client(endpoint)
        client.create_bucket(Bucket="logs")
        put(client, "logs", objects)
        yield endpoint, client, objects, local


def _rows(result: Any, drop: str = "source") -> list[dict[str, Any]]:
    return result.table.drop_columns([drop]).to_pylist()


def test_objects_are_priced_exactly_as_the_same_files_are(store: Any) -> None:
    endpoint, _, objects, local = store
    remote = tokenprice.price_logs("s3://logs/gateway/**/*.log.gz", storage_options=storage_options(endpoint))
    here = tokenprice.price_logs(str(local / "gateway" / "**" / "*.log.gz"))
    assert remote.rows_read == here.rows_read == 6 * 40 + len(BAD)
    assert (remote.rows_priced, remote.rows_rejected) == (here.rows_priced, here.rows_rejected) == (240, 2)
    assert _rows(remote) == _rows(here)
    # Each line names its object's URL, in name order (the local files' order).
    urls = remote.table.column("source").to_pylist()
    paths = here.table.column("source").to_pylist()
    assert [u.removeprefix("s3://logs/") for u in urls] == [str(Path(p).relative_to(local)) for p in paths]
    assert sorted(set(urls)) == [f"s3://logs/{k}" for k in sorted(objects)]
    # The rejects: the same reasons and lines, naming the object.
    assert remote.rejects.drop_columns(["source"]).to_pylist() == here.rejects.drop_columns(["source"]).to_pylist()
    first = f"s3://logs/{sorted(objects)[0]}"
    assert remote.rejects.column("source").to_pylist() == [first, first]
    assert remote.rejects.column("line").to_pylist() == [2, 3]
    assert remote.total_cost == here.total_cost > 0


def test_totals_without_rows_and_a_single_object_and_a_folder(store: Any) -> None:
    endpoint, _, objects, local = store
    options = storage_options(endpoint)
    totals = tokenprice.price_logs("s3://logs/gateway/", storage_options=options, by="tenant", keep_rows=False)
    here = tokenprice.price_logs(str(local / "gateway" / "**" / "*.log.gz"), by="tenant", keep_rows=False)
    assert totals.last_summary.to_pylist() == here.last_summary.to_pylist()
    key = sorted(objects)[-1]
    one = tokenprice.price_logs(f"s3://logs/{key}", storage_options=options)
    assert one.rows_read == 40 and set(one.table.column("source").to_pylist()) == {f"s3://logs/{key}"}


def test_since_and_until_skip_objects_by_their_names_without_opening_them(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, client, objects, _ = store
    opened: list[str] = []
    real_open = _storage.Objects.open

    def spy(self: _storage.Objects, index: int) -> Any:
        opened.append(self.names[index])
        return real_open(self, index)

    monkeypatch.setattr(_storage.Objects, "open", spy)
    # Objects a day holds: 01:00:00-01:00:30 and 02:00:00-02:00:30. The window takes the second of 2 March only.
    since, until = dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.timezone.utc), "2026-03-03T00:00:00Z"
    result = tokenprice.price_logs(
        "s3://logs/gateway/{DATE}/*.log.gz", storage_options=storage_options(endpoint), since=since, until=until
    )
    keys = sorted(objects)
    want = [k for k in keys if k.startswith("gateway/20260302/20260302T02")]
    assert opened == [f"s3://logs/{k}" for k in want]
    assert result.rows_read == 40
    # 1 March's folder is never listed (it can hold no record after 2 March 01:30, even pushed late); 3 March's
    # is (it may hold records of 2 March pushed after midnight), but its objects start after the window.
    planned = _storage.plan(["s3://logs/gateway/**"], storage_options(endpoint), since, until)
    assert planned.listing.skipped_folders == ["gateway/20260301/"]
    assert sorted(result.skipped_objects) == sorted(
        f"s3://logs/{k}" for k in keys if k.startswith(("gateway/20260302/20260302T01", "gateway/20260303/"))
    )
    # An object that would be a reject if read (not gzip, not JSON), named inside the window's skipped range.
    client.put_object(Bucket="logs", Key="gateway/20260303/20260303T050000Z_20260303T050030Z_bad.log.gz", Body=b"xx")
    try:
        again = tokenprice.price_logs(
            "s3://logs/gateway/**/*.log.gz", storage_options=storage_options(endpoint), since=since, until=until
        )
        assert again.rows_read == 40 and again.rows_rejected == 0
    finally:
        client.delete_object(Bucket="logs", Key="gateway/20260303/20260303T050000Z_20260303T050030Z_bad.log.gz")
    with pytest.raises(tokenprice.InvalidArgumentError, match="until"):
        tokenprice.price_logs(
            "s3://logs/gateway/**", storage_options=storage_options(endpoint), since=until, until=since
        )


def test_a_large_object_streams_in_blocks(store: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An object past the whole-fetch size is read as a stream, block by block (never whole), and gives what the
    same file gives; a line past max_line_bytes is the same reject."""
    endpoint, client, _, _ = store
    at = dt.datetime(2026, 3, 4, 9, 0, tzinfo=dt.timezone.utc)
    # Random text in each line, so the object stays large compressed.
    lines = [json.dumps({**record(i, at), "trace": os.urandom(128).hex()}) for i in range(12000)]
    lines.insert(3000, json.dumps({**record(1, at), "pad": "x" * 5000}))
    body = gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=1)
    client.put_object(Bucket="logs", Key="big/one.log.gz", Body=body)
    (tmp_path / "one.log.gz").write_bytes(body)
    monkeypatch.setattr(_storage, "WHOLE_BELOW", 64 << 10)
    monkeypatch.setattr(_storage, "STREAM_BLOCK", 256 << 10)
    reads: list[int] = []
    real_read = _storage._Stream.read

    def spy(self: _storage._Stream, n: int) -> bytes:
        got = real_read(self, n)
        reads.append(len(got))
        return got

    monkeypatch.setattr(_storage._Stream, "read", spy)
    remote = tokenprice.price_logs(
        "s3://logs/big/one.log.gz", storage_options=storage_options(endpoint), max_line_bytes=4000
    )
    here = tokenprice.price_logs(str(tmp_path / "one.log.gz"), max_line_bytes=4000)
    assert len(body) > 4 * (256 << 10)
    assert len([n for n in reads if n > 0]) > 1 and max(reads) <= 1 << 20 and sum(reads) == len(body)
    assert _rows(remote) == _rows(here) and remote.rows_read == 12001
    assert remote.rejects.column("line").to_pylist() == [3001]
    assert "longer than the limit of 4000 bytes" in remote.rejects.column("reason")[0].as_py()
    client.delete_object(Bucket="logs", Key="big/one.log.gz")


def test_r2_is_the_s3_api_at_an_endpoint_and_takes_logpush_destination_urls(store: Any, local_only: Any = None) -> None:
    endpoint, _, objects, _ = store
    by_endpoint = tokenprice.price_logs(
        "r2://logs/gateway/**/*.log.gz", storage_options={"key": KEY, "secret": SECRET, "endpoint_url": endpoint}
    )
    assert by_endpoint.rows_read == 242
    assert by_endpoint.table.column("source")[0].as_py().startswith("r2://logs/gateway/")
    # Logpush's own destination form: credentials in the query, `{DATE}` for the day folders.
    url = f"r2://logs/gateway/{{DATE}}?account-id=acct&access-key-id={KEY}&secret-access-key={SECRET}"
    logpush = tokenprice.price_logs(url, storage_options={"endpoint_url": endpoint})
    assert logpush.rows_read == 242
    assert all(SECRET not in s and "?" not in s for s in set(logpush.table.column("source").to_pylist()))
    with pytest.raises(tokenprice.InvalidArgumentError, match="account_id"):
        tokenprice.price_logs("r2://logs/x/*.gz", storage_options={"key": KEY, "secret": SECRET})


def test_errors_name_the_object_and_never_show_a_credential(store: Any) -> None:
    endpoint, client, objects, _ = store
    options = storage_options(endpoint)

    def error(source: Any, **kw: Any) -> tokenprice.TokenPriceError:
        with pytest.raises(tokenprice.TokenPriceError) as got:
            tokenprice.price_logs(source, **kw)
        text = f"{got.value} {got.value!r}"
        assert SECRET not in text and KEY not in text, text
        assert got.value.__cause__ is None or SECRET not in str(got.value.__cause__)
        return got.value

    assert "no object matches" in str(error("s3://logs/nothing/here/*.gz", storage_options=options))
    assert "s3://nosuchbucket/" in str(error("s3://nosuchbucket/x/**", storage_options=options))
    assert "unknown key 'password'" in str(error("s3://logs/x", storage_options={**options, "password": SECRET}))
    assert "no bucket" in str(error(f"s3://{KEY}:{SECRET}@/x", storage_options=options))
    # A gzip object cut short: an error naming it, not lines silently lost.
    key = "cut/20260305T000000Z_20260305T000030Z_cut.log.gz"
    client.put_object(Bucket="logs", Key=key, Body=objects[sorted(objects)[0]][:-40])
    try:
        assert f"s3://logs/{key}" in str(error(f"s3://logs/{key}", storage_options=options))
    finally:
        client.delete_object(Bucket="logs", Key=key)
    # An object gone between the listing and its reading.
    client.put_object(Bucket="logs", Key="gone/a.log.gz", Body=objects[sorted(objects)[0]])
    planned = _storage.plan(["s3://logs/gone/*.log.gz"], options)
    client.delete_object(Bucket="logs", Key="gone/a.log.gz")
    with pytest.raises(tokenprice.TokenPriceError) as got:
        _storage.price_objects(tokenprice._core.price_log_files, planned.objects, options=LogOptions().core())
    assert "s3://logs/gone/a.log.gz" in str(got.value) and SECRET not in str(got.value)
    # A refused request (a wrong secret against a server that checks it would be refused too): the message is
    # the client's, redacted.
    secret = _storage._options(_storage.parse("s3://logs/x"), options)["secret_key"]
    assert repr(secret) == "Secret(storage_options['secret_key'], ***)" and str(secret) == "***"
    # Local paths take no storage options.
    with pytest.raises(tokenprice.InvalidArgumentError, match="object storage URLs"):
        tokenprice.price_logs(os.devnull, storage_options=options)


def test_the_command_line_prices_a_bucket(
    store: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tokenprice import cli

    endpoint, _, _, local = store
    monkeypatch.setenv("TOKENPRICE_TEST_S3_SECRET", SECRET)
    code = cli.main(
        [
            "price",
            "s3://logs/gateway/**/*.log.gz",
            "--storage-option",
            f"key={KEY}",
            "--storage-option-env",
            "secret=TOKENPRICE_TEST_S3_SECRET",
            "--storage-option",
            f"endpoint_url={endpoint}",
            "--by",
            "tenant",
            "--json",
        ],
    )
    printed = capsys.readouterr()
    assert code == 0, printed.err
    got = json.loads(printed.out)
    here = tokenprice.price_logs(str(local / "gateway" / "**" / "*.log.gz"), by="tenant")
    assert (got["rows_read"], got["rows_rejected"]) == (here.rows_read, here.rows_rejected)
    assert got["total_cost"] == cli.money_text(here.total_cost)
    assert SECRET not in printed.out + printed.err
    # A missing environment variable is an error naming it, not an empty secret.
    monkeypatch.delenv("TOKENPRICE_TEST_S3_SECRET")
    assert cli.main(["price", "s3://logs/gateway/**", "--storage-option-env", "secret=TOKENPRICE_TEST_S3_SECRET"]) == 2
    assert "TOKENPRICE_TEST_S3_SECRET" in capsys.readouterr().err


def test_progress_names_each_object(store: Any) -> None:
    endpoint, _, objects, _ = store
    seen: list[tuple[str, int]] = []
    tokenprice.price_logs(
        "s3://logs/gateway/**/*.log.gz",
        storage_options=storage_options(endpoint),
        progress=lambda name, taken, records: seen.append((name, records)),
    )
    assert sorted({n for n, _ in seen}) == [f"s3://logs/{k}" for k in sorted(objects)]
    assert seen[-1][1] == 242 and [r for _, r in seen] == sorted(r for _, r in seen)


def test_gcs_and_azure_options_map_to_pyarrow_without_a_server() -> None:
    """No GCS or Azure emulator installs here (fake-gcs-server and Azurite are neither on PyPI nor in Debian): the
    options and URLs are checked as far as building pyarrow's filesystem, which sends nothing."""
    import pyarrow.fs as pafs

    gcs = _storage.parse("gs://bucket/logs/{DATE}")
    assert (gcs.kind, gcs.bucket, gcs.pattern) == ("gcs", "bucket", "logs/*/**")
    fs = _storage.filesystem(gcs, _storage._options(gcs, {"anon": True, "endpoint_url": "http://127.0.0.1:4443"}))
    assert isinstance(fs, pafs.GcsFileSystem)
    # Logpush's Azure destination: a SAS URL with azure:// for https://; the SAS is a secret.
    sas = "sv=2024-01-01&sig=S1GN4TURE%3D"
    azure = _storage.parse(f"azure://acct.blob.core.windows.net/container/logs/{{DATE}}?{sas}")
    assert (azure.bucket, azure.pattern, azure.query["account_name"]) == ("container", "logs/*/**", "acct")
    options = _storage._options(azure, None)
    assert str(options["sas_token"]) == "***" and options["sas_token"].reveal() == sas
    assert isinstance(_storage.filesystem(azure, options), pafs.AzureFileSystem)
    assert azure.url("logs/20260301/a.log.gz") == "azure://acct.blob.core.windows.net/container/logs/20260301/a.log.gz"
    with pytest.raises(tokenprice.InvalidArgumentError, match="account_name"):
        _storage.filesystem(_storage.parse("az://container/x"), {})
    with pytest.raises(tokenprice.InvalidArgumentError, match="unknown key 'key'"):
        _storage._options(gcs, {"key": "x"})

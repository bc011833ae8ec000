"""Logs in object storage: S3, Cloudflare R2 (S3's API at an endpoint of its own), Google Cloud Storage and Azure
Blob Storage, read through ``pyarrow.fs`` (pyarrow is already tokenprice's one required dependency; its C++ clients
stream objects and release the GIL while they wait).

A URL such as ``s3://bucket/logs/**/*.log.gz`` is listed folder by folder under its fixed prefix (``**`` any
depth, ``*`` ``?`` ``[…]`` within a name; on GCS the prefix is listed whole, see :func:`list_objects`), in name
order; with ``since``/``until``, Logpush's daily folders (``{DATE}``, ``YYYYMMDD``) and object names that start
with their time range (``<start>_<end>_…``) that cannot hold a record of the window are skipped, folders without
being listed and objects without being opened. The listing runs in a thread and hands each object to the core as
it is found (:class:`Objects`), so pricing starts before the listing ends and memory holds a bounded part of it.
Each object is read by the core as a file is (decompressed by its magic bytes, split into lines in blocks, the same
rejects naming the object's URL and line): small objects are fetched whole a few ahead in threads (objects are
fetched in parallel while the current one is priced); large ones stream in 8 MB blocks. On S3 and R2, small objects
are fetched with obstore when it is installed (the ``s3`` extra; see :func:`fetcher`): one ``GET`` each, where
pyarrow's S3 client sends a ``HEAD`` before every ``GET``. Credentials
(``storage_options`` values, keys in a URL's query) are :class:`~tokenprice._secrets.Secret` values, shown as
``***``, and removed from every message.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import os
import queue
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

from tokenprice import _core
from tokenprice._secrets import MASK, Secret, redact, redact_url, redacted_error

# URL scheme → the store it names.
SCHEMES = {
    "s3": "s3",
    "s3a": "s3",
    "r2": "r2",
    "gs": "gcs",
    "gcs": "gcs",
    "az": "azure",
    "azure": "azure",
    "abfs": "azure",
    "abfss": "azure",
}

# storage_options keys each store takes (the names s3fs, gcsfs and adlfs use, and pyarrow's own), → pyarrow's name.
_S3_KEYS = {
    "key": "access_key",
    "access_key": "access_key",
    "aws_access_key_id": "access_key",
    "access-key-id": "access_key",
    "secret": "secret_key",
    "secret_key": "secret_key",
    "aws_secret_access_key": "secret_key",
    "secret-access-key": "secret_key",
    "token": "session_token",
    "session_token": "session_token",
    "aws_session_token": "session_token",
    "endpoint_url": "endpoint_url",
    "endpoint": "endpoint_url",
    "region": "region",
    "region_name": "region",
    "anon": "anonymous",
    "anonymous": "anonymous",
    "account_id": "account_id",
    "account-id": "account_id",
}
_GCS_KEYS = {
    "token": "access_token",
    "access_token": "access_token",
    "token_expiration": "credential_token_expiration",
    "anon": "anonymous",
    "anonymous": "anonymous",
    "endpoint_url": "endpoint_url",
    "project": "project_id",
    "project_id": "project_id",
}
_AZURE_KEYS = {
    "account_name": "account_name",
    "account_key": "account_key",
    "sas_token": "sas_token",
    "client_id": "client_id",
    "client_secret": "client_secret",
    "tenant_id": "tenant_id",
    "endpoint_url": "endpoint_url",
}
_KEYS = {"s3": _S3_KEYS, "r2": _S3_KEYS, "gcs": _GCS_KEYS, "azure": _AZURE_KEYS}
# pyarrow names whose values are credentials: always held as Secret, never shown.
_SECRET_NAMES = {
    "access_key",
    "secret_key",
    "session_token",
    "access_token",
    "account_key",
    "sas_token",
    "client_secret",
}

# Objects this size or smaller are fetched whole, `AHEAD` at a time in threads; larger ones stream in blocks. The
# listing runs at most `LIST_AHEAD` objects ahead of the fetching.
WHOLE_BELOW = 8 << 20
AHEAD = 4
STREAM_BLOCK = 8 << 20
LIST_AHEAD = 1000

# Logpush's `{DATE}` folder ("the date in the YYYYMMDD format", cloudflare-docs
# `logs/logpush/logpush-job/api-configuration.mdx`, "Destination") and an object name that starts with the time
# range of its records, `<start>_<end>_…` (`20240105T101500Z_20240105T101530Z_3f9a.log.gz`).
# A bucket's (container's) name: S3's, GCS's and Azure's rules all keep to these characters.
_BUCKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_DATE_FOLDER = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_RANGE_NAME = re.compile(r"^(\d{8}T\d{6}Z)_(\d{8}T\d{6}Z)_")


def is_url(text: object) -> bool:
    """Whether ``text`` names objects of a store tokenprice reads (``s3://``, ``r2://``, ``gs://``, ``az://``…)."""
    if not isinstance(text, str) or "://" not in text:
        return False
    return text.split("://", 1)[0].lower() in SCHEMES


@dataclass
class Location:
    """One URL: its store, bucket (container), the pattern of keys under it, and the options its query gave."""

    kind: str
    scheme: str
    bucket: str
    pattern: str
    query: dict[str, str] = field(default_factory=dict)
    host: str = ""

    def url(self, key: str) -> str:
        """The object's URL as results and errors name it (no query: nothing secret)."""
        return f"{self.scheme}://{self.host + '/' if self.host else ''}{self.bucket}/{key}"


def _masked(url: str) -> str:
    """A URL given with credentials before an ``@`` (a store's key id and secret: both credentials here), shown
    with all of them as ``***``; its query's credentials too."""
    scheme, sep, rest = url.partition("://")
    at = rest.rfind("@")
    return redact_url(f"{scheme}://{MASK}@{rest[at + 1 :]}" if sep and at >= 0 else url)


def parse(url: str) -> Location:
    """A storage URL's parts; a URL that names no bucket is an error naming it (redacted)."""
    try:
        parts = urlsplit(url)
    except ValueError as e:
        raise _core.InvalidArgumentError(f"{_masked(url)}: not a URL: {e}") from None
    scheme = parts.scheme.lower()
    kind = SCHEMES.get(scheme)
    if kind is None:
        raise _core.InvalidArgumentError(f"{_masked(url)}: unknown scheme (known: {', '.join(sorted(SCHEMES))})")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    # The `{DATE}` placeholder of a Logpush destination stands for any day; a destination that ends with it is
    # the folder of every object pushed that day.
    path = parts.path.rstrip("/") + "/**" if parts.path.rstrip("/").endswith("{DATE}") else parts.path
    path = path.replace("{DATE}", "*").lstrip("/")
    host, bucket = "", parts.netloc
    if kind == "azure" and parts.netloc.endswith(".blob.core.windows.net"):
        # A Logpush Azure destination: a SAS URL with `azure://` for `https://` (account host, container, query).
        host = parts.netloc
        bucket, _, path = path.partition("/")
        query = {"account_name": parts.netloc.split(".", 1)[0], "sas_token": parts.query} if parts.query else {}
    if not _BUCKET.match(bucket) or "@" in parts.netloc:
        raise _core.InvalidArgumentError(
            f"{_masked(url)}: no bucket (write {scheme}://BUCKET/PATH; credentials go in storage_options)"
        )
    return Location(kind, scheme, bucket, path, query, host)


def _options(location: Location, storage_options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The store's pyarrow options from ``storage_options`` and the URL's query (credentials as Secret)."""
    names = _KEYS[location.kind]
    given: dict[str, Any] = {}
    for source in (location.query, storage_options or {}):
        for key, value in source.items():
            if location.kind in ("s3", "r2") and source is location.query and key == "sse":
                continue  # Logpush's server-side encryption choice: writing only
            if key == "client_kwargs" and isinstance(value, Mapping):  # s3fs's nesting of endpoint_url, region_name
                for k, v in value.items():
                    given[_name(location, names, k)] = v
                continue
            given[_name(location, names, key)] = value
    for key in list(given):
        if key in _SECRET_NAMES and given[key] is not None and not isinstance(given[key], Secret):
            given[key] = Secret(str(given[key]), f"storage_options[{key!r}]")
    return given


def _name(location: Location, names: Mapping[str, str], key: str) -> str:
    if key not in names:
        raise _core.InvalidArgumentError(
            f"storage_options: unknown key {key!r} for {location.scheme}:// (known: {', '.join(sorted(names))})"
        )
    return names[key]


def _secrets(options: Mapping[str, Any]) -> list[Secret]:
    return [v for v in options.values() if isinstance(v, Secret)]


def _reveal(value: Any) -> Any:
    return value.reveal() if isinstance(value, Secret) else value


def _endpoint(url: str) -> tuple[str, str]:
    """An endpoint URL as (scheme, host[:port])."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    return parts.scheme or "https", parts.netloc


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("1", "true", "yes"))


def _with_endpoint(o: Mapping[str, Any], endpoint: Any) -> dict[str, Any]:
    """S3's and GCS's keywords: the options, the endpoint as host and scheme, ``anonymous`` as a flag."""
    kwargs = {k: v for k, v in o.items() if k != "anonymous"}
    if endpoint is not None:
        scheme, host = _endpoint(str(endpoint))
        kwargs.update(endpoint_override=host, scheme=scheme)
    if _flag(o.get("anonymous")):
        kwargs["anonymous"] = True
    return kwargs


def filesystem(location: Location, options: Mapping[str, Any]) -> Any:
    """The pyarrow filesystem for the location (built lazily: nothing is sent until a listing or a read)."""
    import pyarrow.fs as pafs

    o = {k: _reveal(v) for k, v in options.items()}
    if location.kind in ("s3", "r2"):
        endpoint = o.pop("endpoint_url", None)
        account = o.pop("account_id", None)
        if location.kind == "r2" and endpoint is None:
            if not account:
                raise _core.InvalidArgumentError(
                    "r2://: give storage_options account_id (or endpoint_url https://ACCOUNT.r2.cloudflarestorage.com)"
                )
            endpoint = f"https://{account}.r2.cloudflarestorage.com"
        kwargs = _with_endpoint(o, endpoint)
        if location.kind == "r2":
            kwargs.setdefault("region", "auto")
        return pafs.S3FileSystem(**kwargs)
    if location.kind == "gcs":
        kwargs = _with_endpoint(o, o.pop("endpoint_url", None))
        if "access_token" in kwargs and "credential_token_expiration" not in kwargs:
            kwargs["credential_token_expiration"] = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
        return pafs.GcsFileSystem(**kwargs)
    endpoint = o.pop("endpoint_url", None)
    if not o.get("account_name"):
        raise _core.InvalidArgumentError(f"{location.scheme}://: give storage_options account_name")
    kwargs = dict(o)
    sas = kwargs.get("sas_token")
    if sas and not str(sas).startswith("?"):
        # pyarrow appends the token to the account's URL as it is given (apache/arrow
        # cpp/src/arrow/filesystem/azurefs.cc, MakeBlobServiceClient: `AccountBlobUrl(account_name) + sas_token_`;
        # its own URI parsing passes "?" + the query): a token as Azure's portal and Logpush's destination URL
        # write it, without the "?", would become part of every request's path.
        kwargs["sas_token"] = f"?{sas}"
    if endpoint is not None:
        scheme, host = _endpoint(str(endpoint))
        kwargs.update(blob_storage_authority=host, blob_storage_scheme=scheme)
        kwargs.update(dfs_storage_authority=host, dfs_storage_scheme=scheme)
    return pafs.AzureFileSystem(**kwargs)


def fetcher(location: Location, options: Mapping[str, Any], secrets: Sequence[Secret]) -> Callable[[str], bytes] | None:
    """How small objects of S3 and R2 are fetched when obstore (developmentseed's Python binding to Apache Arrow's
    Rust ``object_store``) is installed: one ``GET`` per object. pyarrow's S3 client sends a ``HEAD`` before each
    ``GET`` (apache/arrow ``cpp/src/arrow/filesystem/s3fs.cc``: ``ObjectInputFile::Init`` asks for the size), twice
    the requests and the latency for objects of a few MB, Logpush's; see benches/RESULTS.md, "Reading ahead,
    zlib-rs and obstore". ``None`` (pyarrow fetches, as it lists) without obstore, on GCS and Azure, and wherever the
    two clients could reach different places or credentials: obstore is used only with the credentials given
    (``storage_options`` keys, or ``anon``) or in ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY``, which both
    read first; with the region given (``region``, ``AWS_REGION``, ``AWS_DEFAULT_REGION``; R2's is ``auto``, and a
    store at an endpoint of its own takes ``us-east-1`` as both do), and no ``AWS_*`` variable set that obstore
    reads on its own (``AWS_SESSION_TOKEN`` beside keys given, ``AWS_ENDPOINT_URL``…, ``AWS_CA_BUNDLE`` over
    https). Otherwise pyarrow's AWS
    SDK finds them (``~/.aws`` profiles and config, SSO, instance roles), as it does for the listing. Failed
    requests are tried 3 times, as the AWS SDK does."""
    if location.kind not in ("s3", "r2") or not _obstore_usable():
        return None
    try:
        import obstore
        from obstore.store import S3Store
    except ImportError:
        return None
    o = {k: _reveal(v) for k, v in options.items()}
    anonymous = _flag(o.get("anonymous"))
    given = o.get("access_key") is not None and o.get("secret_key") is not None
    env = bool(os.environ.get("AWS_ACCESS_KEY_ID")) and bool(os.environ.get("AWS_SECRET_ACCESS_KEY"))
    if not (anonymous or given or env):
        return None
    if any(k in _AWS_READ_APART or (k.startswith("AWS_") and "ENDPOINT" in k) for k in os.environ):
        return None
    if (given or anonymous) and os.environ.get("AWS_SESSION_TOKEN") and o.get("session_token") is None:
        return None  # obstore would sign the keys given with the environment's token
    config: dict[str, Any] = {}
    if given:
        config.update(access_key_id=str(o["access_key"]), secret_access_key=str(o["secret_key"]))
        if o.get("session_token") is not None:
            config["session_token"] = str(o["session_token"])
    if anonymous:
        config["skip_signature"] = True
    endpoint = o.get("endpoint_url")
    if location.kind == "r2" and endpoint is None:
        endpoint = f"https://{o.get('account_id')}.r2.cloudflarestorage.com"
    client: dict[str, Any] = {}
    if os.environ.get("AWS_CA_BUNDLE") and (endpoint is None or _endpoint(str(endpoint))[0] == "https"):
        return None  # certificates of the AWS SDK's own choice, which obstore does not read
    if endpoint is not None:
        scheme, host = _endpoint(str(endpoint))
        config["endpoint"] = f"{scheme}://{host}"
        client["allow_http"] = scheme == "http"
    region = o.get("region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    region = region or ("auto" if location.kind == "r2" else "us-east-1" if endpoint is not None else None)
    if region is None:
        return None  # pyarrow's SDK may find it in ~/.aws/config, which obstore does not read
    config["region"] = str(region)
    # obstore's own TypedDicts (S3Config, ClientConfig, RetryConfig) are what these dicts hold.
    retries: Any = {"max_retries": 2, "retry_timeout": dt.timedelta(seconds=60)}
    try:
        store = S3Store(
            location.bucket, config=cast(Any, config), client_options=cast(Any, client), retry_config=retries
        )
    except Exception as e:  # noqa: BLE001 - a foreign client's error, redacted
        raise redacted_error(
            e, secrets, f"{location.scheme}://{location.bucket}: cannot connect", _core.InvalidArgumentError
        ) from None

    def fetch(key: str) -> bytes:
        global _OBSTORE_USED
        _OBSTORE_USED = os.getpid()
        return bytes(obstore.get(store, key).bytes())

    return fetch


# The process in which obstore fetched (see `fetcher`).
_OBSTORE_USED: int | None = None
# AWS_* variables that change where or how obstore's requests go, and that pyarrow's SDK reads otherwise or not at
# all (besides every AWS_*ENDPOINT* one; object_store's `AmazonS3ConfigKey` and `ClientConfigKey` names).
_AWS_READ_APART = {
    "AWS_VIRTUAL_HOSTED_STYLE_REQUEST",
    "AWS_S3_EXPRESS",
    "AWS_UNSIGNED_PAYLOAD",
    "AWS_SKIP_SIGNATURE",
    "AWS_REQUEST_PAYER",
    "AWS_CHECKSUM_ALGORITHM",
    "AWS_SSE_CUSTOMER_KEY_BASE64",
    "AWS_PROXY_URL",
    "AWS_ALLOW_HTTP",
    "AWS_ALLOW_INVALID_CERTIFICATES",
}


def _obstore_usable() -> bool:
    """Whether obstore may fetch in this process: not in one forked after it fetched (its runtime's threads are
    not in the child, where a fetch would wait forever)."""
    return _OBSTORE_USED in (None, os.getpid())


def _instant(value: Any, what: str) -> dt.datetime | None:
    """``since``/``until`` as an aware UTC datetime: a datetime (naive: UTC), a date (its midnight) or ISO text."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise _core.InvalidArgumentError(f"{what}: {value!r} is not an ISO date or time") from None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    raise _core.InvalidTypeError(f"{what} must be a datetime, a date or ISO text, not {type(value).__name__}")


@dataclass
class Window:
    """The time window of ``since`` (inclusive) and ``until`` (exclusive)."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def overlaps(self, start: dt.datetime, end: dt.datetime) -> bool:
        """Whether records between ``start`` and ``end`` (both inclusive) may fall in the window."""
        return (self.since is None or end >= self.since) and (self.until is None or start < self.until)

    def keeps_folder(self, name: str) -> bool:
        """A ``YYYYMMDD`` folder is the day its objects were pushed; a record pushed a little after midnight sits
        in the next day's folder, so a folder is kept for records of its day and the day before."""
        m = _DATE_FOLDER.match(name)
        if m is None or (self.since is None and self.until is None):
            return True
        try:
            day = dt.datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=dt.timezone.utc)
        except ValueError:
            return True
        return self.overlaps(day - dt.timedelta(days=1), day + dt.timedelta(days=1) - dt.timedelta(microseconds=1))

    def keeps_object(self, name: str) -> bool:
        m = _RANGE_NAME.match(name)
        if m is None or (self.since is None and self.until is None):
            return True
        start, end = (dt.datetime.strptime(t, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc) for t in m.groups())
        return self.overlaps(start, end)


def _states(pattern: Sequence[str], parts: Sequence[str]) -> set[int]:
    """The places in ``pattern`` (path components; ``**`` any number of them) reachable after ``parts``."""

    def closure(states: set[int]) -> set[int]:
        out = set(states)
        for i in sorted(states):
            j = i
            while j < len(pattern) and pattern[j] == "**":
                j += 1
                out.add(j)
        return out

    states = closure({0})
    for part in parts:
        nxt: set[int] = set()
        for i in states:
            if i < len(pattern):
                if pattern[i] == "**":
                    nxt.add(i)
                elif fnmatchcase(part, pattern[i]):
                    nxt.add(i + 1)
        states = closure(nxt)
        if not states:
            break
    return states


@dataclass
class Listing:
    """What the window skipped, filled in as the listing goes (folders by their key, ending in ``/``), and how
    many objects the listing gave."""

    found: int = 0
    skipped_folders: list[str] = field(default_factory=list)
    skipped_objects: list[str] = field(default_factory=list)


def _glob_chars(text: str) -> bool:
    return any(c in text for c in "*?[")


class _Walk:
    """What the pattern and the window say of a folder or an object, by its key's parts (from the bucket's root)."""

    def __init__(self, pattern: list[str], window: Window, listing: Listing) -> None:
        self.pattern, self.window, self.listing = pattern, window, listing

    def enters(self, parts: list[str]) -> bool:
        """Whether the folder may hold objects the pattern names and the window keeps (a date folder the window
        skips is recorded)."""
        if not any(s < len(self.pattern) for s in _states(self.pattern, parts)):
            return False
        if not self.window.keeps_folder(parts[-1]):
            folder = "/".join(parts) + "/"
            if not self.listing.skipped_folders or self.listing.skipped_folders[-1] != folder:
                self.listing.skipped_folders.append(folder)
            return False
        return True

    def takes(self, parts: list[str]) -> bool:
        """Whether the object is one the pattern names and the window keeps (one the window skips is recorded)."""
        if len(self.pattern) not in _states(self.pattern, parts):
            return False
        if not self.window.keeps_object(parts[-1]):
            self.listing.skipped_objects.append("/".join(parts))
            return False
        return True


def list_objects(
    fs: Any, location: Location, window: Window, secrets: Sequence[Secret], listing: Listing
) -> Iterator[tuple[str, int]]:
    """The objects the location's pattern names (key, size), in name order, given as they are listed: folder by
    folder from the pattern's fixed prefix (a folder the pattern cannot reach, or a date folder outside the window,
    is never listed), each folder's objects given before the next folder is listed. On GCS the fixed prefix is
    listed whole instead (pyarrow's GCS listing of one level gives the objects at that level but not the folders
    under it, apache/arrow ``cpp/src/arrow/filesystem/gcsfs.cc``, ``GetFileInfo(const FileSelector&)``, so a
    folder that is only a prefix, as Logpush's are, would not be seen), and the same rules are applied to each
    object's folders."""
    import pyarrow.fs as pafs

    pattern = [p for p in location.pattern.split("/") if p]
    fixed: list[str] = []
    for p in pattern:
        if _glob_chars(p):
            break
        fixed.append(p)
    base = location.bucket

    def info(path: str) -> Any:
        try:
            return fs.get_file_info(path)
        except Exception as e:  # noqa: BLE001 - a foreign client's error, redacted
            raise _error(e, secrets, f"{location.url(path.partition('/')[2])}: cannot look it up") from None

    if len(fixed) == len(pattern):
        # No wildcard: one object, or every object under a folder.
        key = "/".join(pattern)
        found = info(f"{base}/{key}") if key else None
        if found is not None and found.type == pafs.FileType.File:
            yield key, found.size
            return
        pattern = [*pattern, "**", "*"]
    walk = _Walk(pattern, window, listing)

    def entries(folder: list[str], recursive: bool) -> list[Any]:
        path = "/".join([base, *folder])
        try:
            return list(fs.get_file_info(pafs.FileSelector(path, allow_not_found=True, recursive=recursive)))
        except Exception as e:  # noqa: BLE001 - a foreign client's error, redacted
            where = location.url("/".join(folder) + "/") if folder else f"{location.scheme}://{location.bucket}/"
            raise _error(e, secrets, f"{where}: cannot list") from None

    def by_folder(folder: list[str]) -> Iterator[tuple[str, int]]:
        for entry in sorted(entries(folder, False), key=lambda e: e.base_name):
            parts = [*folder, entry.base_name]
            if entry.type == pafs.FileType.Directory:
                if walk.enters(parts):
                    yield from by_folder(parts)
            elif entry.type == pafs.FileType.File and walk.takes(parts):
                yield "/".join(parts), entry.size

    def whole(folder: list[str]) -> Iterator[tuple[str, int]]:
        # Keys sorted by their parts: the order of the walk by folder (a folder's objects before a name that
        # extends the folder's name, "a/x" before "a.log").
        files = [e for e in entries(folder, True) if e.type == pafs.FileType.File]
        files.sort(key=lambda e: e.path.split("/"))
        for entry in files:
            parts = entry.path.split("/")[1:]
            if all(walk.enters(parts[:i]) for i in range(len(folder) + 1, len(parts))) and walk.takes(parts):
                yield "/".join(parts), entry.size

    yield from (whole if location.kind == "gcs" else by_folder)(fixed)


def shown(url: str, secrets: Sequence[Secret]) -> str:
    """A URL as errors show it: credentials in its query or user part, and any of ``secrets``, as ``***``."""
    return redact(_masked(url), secrets)


def _error(e: BaseException, secrets: Sequence[Secret], context: str) -> Exception:
    """tokenprice's error for a store client's exception: the context and the client's message both cleaned."""
    return redacted_error(e, secrets, redact(context, secrets))


class _Stream:
    """An object read in blocks: pyarrow's stream (its ``read`` releases the GIL), errors redacted and naming it."""

    def __init__(self, stream: Any, url: str, secrets: Sequence[Secret]) -> None:
        self.stream, self.url, self.secrets = stream, url, secrets

    def read(self, n: int) -> bytes:
        try:
            return bytes(self.stream.read(n))
        except Exception as e:  # noqa: BLE001 - a foreign client's error, redacted
            raise redacted_error(e, self.secrets, "cannot read the object") from None


# The end of the listing, and an error it raised, as the listing thread hands them over.
_END = object()
# How often a wait for the listing or a fetch looks whether the run was stopped (`Objects.stop`).
_POLL = 0.05


class _Stopped(Exception):
    """The run was stopped (by an interrupt) while the objects' iterator waited: the run raises its own cause."""


class _Fetchers:
    """``AHEAD`` daemon threads fetching objects: unlike a ``ThreadPoolExecutor``'s, a fetch that does not answer
    (a store that holds the connection open: obstore's retries last up to a minute) keeps neither a stopped run nor
    the interpreter's exit waiting; its result is dropped when it comes."""

    def __init__(self, fetch: Callable[[str], bytes]):
        self._fetch = fetch
        self._work: queue.SimpleQueue[tuple[Future[bytes], str] | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._run, name=f"tokenprice-objects-{i}", daemon=True) for i in range(AHEAD)
        ]
        for t in self._threads:
            t.start()

    def _run(self) -> None:
        while (work := self._work.get()) is not None:
            future, key = work
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(self._fetch(key))
            except BaseException as e:  # noqa: BLE001 - handed to the core's thread with the future
                future.set_exception(e)

    def submit(self, key: str) -> Future[bytes]:
        future: Future[bytes] = Future()
        self._work.put((future, key))
        return future

    def shutdown(self, wait: bool) -> None:
        """Stops the threads once their fetches end; ``wait``: waits for that."""
        for _ in self._threads:
            self._work.put(None)
        if wait:
            for t in self._threads:
                t.join()


@dataclass
class _Failed:
    error: BaseException


class Objects:
    """The objects of a run, handed to the core one at a time as they are listed: iterating gives (URL, the object
    whole) for a small one, fetched while the objects before it are priced, and (URL, a stream) for a large one.

    The listing runs in a thread of its own, at most ``LIST_AHEAD`` objects ahead of the fetching, which is at most
    ``AHEAD`` objects ahead of the core: pricing starts as soon as the first object is listed and fetched, and
    memory holds a bounded part of the listing however many objects the URLs name. ``handed`` counts the objects
    given to the core."""

    def __init__(
        self,
        fs: Any,
        location: Location,
        keys: Iterable[tuple[str, int]],
        secrets: Sequence[Secret],
        fetch: Callable[[str], bytes] | None = None,
    ):
        self.fs, self.location, self.secrets, self.fetch = fs, location, list(secrets), fetch
        self.handed = 0
        self._keys = iter(keys)
        self._listed: queue.Queue[Any] = queue.Queue(LIST_AHEAD)
        self._ahead: deque[tuple[str, Future[bytes] | None]] = deque()
        self._pool: _Fetchers | None = None
        self._lister: threading.Thread | None = None
        self._stop = threading.Event()
        self._stopped_early = False
        self._listed_all = False

    def _list(self) -> None:
        """The listing thread: each object listed goes into the queue (waiting while it is full), then the end or
        the error that stopped the listing."""
        try:
            for key in self._keys:
                if not self._put(key):
                    return
            self._put(_END)
        except BaseException as e:  # noqa: BLE001 - handed to the core's thread, raised there
            self._put(_Failed(e))

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._listed.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _fetch(self, key: str) -> bytes:
        if self.fetch is not None and _obstore_usable():
            return self.fetch(key)
        with self.fs.open_input_stream(f"{self.location.bucket}/{key}", compression=None) as f:
            return bytes(f.read())

    def _take(self, wait: bool) -> None:
        """Takes listed objects until ``AHEAD`` are waiting for the core, starting the fetch of the small ones;
        ``wait``: waits for the listing when none is waiting."""
        assert self._pool is not None
        while not self._listed_all and len(self._ahead) < AHEAD:
            try:
                item = self._listed.get(block=wait and not self._ahead, timeout=_POLL)
            except queue.Empty:
                if self._stop.is_set():
                    raise _Stopped from None
                if wait and not self._ahead:
                    continue
                return
            if item is _END:
                self._listed_all = True
            elif isinstance(item, _Failed):
                self._listed_all = True
                raise item.error
            else:
                key, size = item
                fetch = self._pool.submit(key) if size <= WHOLE_BELOW else None
                self._ahead.append((key, fetch))

    def __iter__(self) -> Objects:
        return self

    def __next__(self) -> tuple[str, bytes | _Stream]:
        if self._lister is None:
            self._pool = _Fetchers(self._fetch)
            self._lister = threading.Thread(target=self._list, name="tokenprice-listing", daemon=True)
            self._lister.start()
        self._take(wait=True)
        if not self._ahead:
            raise StopIteration
        key, fetch = self._ahead.popleft()
        self._take(wait=False)
        self.handed += 1
        url = self.location.url(key)
        try:
            if fetch is not None:
                return url, self._result(fetch)
            stream = self.fs.open_input_stream(
                f"{self.location.bucket}/{key}", compression=None, buffer_size=STREAM_BLOCK
            )
            return url, _Stream(stream, url, self.secrets)
        except _Stopped:
            raise
        except Exception as e:  # noqa: BLE001 - a foreign client's error, redacted
            raise redacted_error(e, self.secrets, f"{redact(url, self.secrets)}: cannot open the object") from None

    def _result(self, fetch: Future[bytes]) -> bytes:
        """The fetched object, waiting for it no longer than the run goes on (see `stop`)."""
        while True:
            try:
                return fetch.result(timeout=_POLL)
            except concurrent.futures.TimeoutError:  # not the builtin one before Python 3.11
                if self._stop.is_set():
                    raise _Stopped from None

    def stop(self) -> None:
        """The run stopped early (an interrupt, an error): a wait of `__next__` for the listing or a fetch ends,
        and `close` waits for no fetch or listing call still running (their threads end with them, their results
        dropped). Called by the core from another thread than the one that runs `__next__`."""
        self._stopped_early = True
        self._stop.set()

    def close(self) -> None:
        """Stops the listing and the fetching (what was fetched ahead and not priced is dropped). After a run
        that ended, it waits for the threads; after one stopped early, not for a fetch or a listing call that has
        not answered."""
        self._stop.set()
        wait = not self._stopped_early
        if self._lister is not None and wait:
            self._lister.join()
        if self._pool is not None:
            for _, fetch in self._ahead:
                if fetch is not None:
                    fetch.cancel()
            self._pool.shutdown(wait=wait)
            self._pool = None
        self._ahead.clear()


@dataclass
class Plan:
    """A run over objects, nothing listed yet: the store, the URLs' locations and window, and what the listing
    skipped (filled in as it goes)."""

    fs: Any
    urls: list[str]
    locations: list[Location]
    window: Window
    secrets: list[Secret]
    listing: Listing = field(default_factory=Listing)
    fetch: Callable[[str], bytes] | None = None

    @property
    def location(self) -> Location:
        return self.locations[0]

    def keys(self) -> Iterator[tuple[str, int]]:
        """The objects the URLs name (key, size), listed as they are taken: each URL's in name order, an object
        named by two URLs once (a run of several URLs keeps the keys it gave to tell). A URL that matches nothing,
        not even an object or folder the window skipped, is an error naming it."""
        seen: set[str] | None = set() if len(self.urls) > 1 else None
        for url, location in zip(self.urls, self.locations, strict=True):
            before = (self.listing.found, len(self.listing.skipped_objects), len(self.listing.skipped_folders))
            for key, size in list_objects(self.fs, location, self.window, self.secrets, self.listing):
                self.listing.found += 1
                if seen is not None:
                    if key in seen:
                        continue
                    seen.add(key)
                yield key, size
            after = (self.listing.found, len(self.listing.skipped_objects), len(self.listing.skipped_folders))
            if after == before:
                raise _core.InputError(f"{shown(url, self.secrets)}: no object matches")

    def objects(self, keys: Iterable[tuple[str, int]] | None = None) -> Objects:
        """The objects to hand to the core: those the listing gives (or ``keys``, listed before)."""
        return Objects(self.fs, self.location, self.keys() if keys is None else keys, self.secrets, self.fetch)


def plan(
    urls: Sequence[str],
    storage_options: Mapping[str, Any] | None,
    since: Any = None,
    until: Any = None,
) -> Plan:
    """A run over the objects the URLs name (all in one store and bucket), the window applied to their names:
    checked and connected, nothing listed yet."""
    given = [
        v if isinstance(v, Secret) else str(v)
        for k, v in (storage_options or {}).items()
        if isinstance(v, Secret) or any(names.get(k) in _SECRET_NAMES for names in _KEYS.values())
    ]
    try:
        locations = [parse(u) for u in urls]
    except _core.TokenPriceError as e:
        raise type(e)(redact(str(e), given)) from None
    first = locations[0]
    for other in locations[1:]:
        if (other.kind, other.bucket, other.host, other.query) != (first.kind, first.bucket, first.host, first.query):
            raise _core.InvalidArgumentError("object storage URLs of one run must name one bucket of one store")
    window = Window(_instant(since, "since"), _instant(until, "until"))
    if window.since is not None and window.until is not None and window.until <= window.since:
        raise _core.InvalidArgumentError(f"until ({window.until}) must be after since ({window.since})")
    options = _options(first, storage_options)
    secrets = _secrets(options)
    try:
        fs = filesystem(first, options)
    except _core.TokenPriceError:
        raise
    except Exception as e:  # noqa: BLE001 - a foreign client's error, redacted
        raise redacted_error(
            e, secrets, f"{first.scheme}://{first.bucket}: cannot connect", _core.InvalidArgumentError
        ) from None
    return Plan(fs, list(urls), locations, window, secrets, fetch=fetcher(first, options, secrets))


def price_objects(
    run: Callable[..., Any],
    objects: Objects,
    **kwargs: Any,
) -> Any:
    """Runs the core over the objects (``run`` is ``_core.price_log_files`` with its keywords, given no paths and
    the objects), stopping the listing and fetching threads whatever happens."""
    try:
        return run([], objects=objects, **kwargs)
    finally:
        objects.close()

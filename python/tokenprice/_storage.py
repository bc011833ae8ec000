"""Logs in object storage: S3, Cloudflare R2 (S3's API at an endpoint of its own), Google Cloud Storage and Azure
Blob Storage, read through ``pyarrow.fs`` (pyarrow is already tokenprice's one required dependency; its C++ clients
stream objects and release the GIL while they wait).

A URL such as ``s3://bucket/logs/**/*.log.gz`` is listed folder by folder under its fixed prefix (``**`` any
depth, ``*`` ``?`` ``[…]`` within a name), in name order; with ``since``/``until``, Logpush's daily folders
(``{DATE}``, ``YYYYMMDD``) and object names that start with their time range (``<start>_<end>_…``) that cannot
hold a record of the window are skipped, folders without being listed and objects without being opened. Each object
is then read by the core as a file is (decompressed by its magic bytes, split into lines in blocks, the same
rejects naming the object's URL and line): small objects are fetched whole a few ahead in threads (objects are
fetched in parallel while the current one is priced); large ones stream in 8 MB blocks. Credentials
(``storage_options`` values, keys in a URL's query) are :class:`~tokenprice._secrets.Secret` values, shown as
``***``, and removed from every message.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tokenprice import _core
from tokenprice._secrets import Secret, redact, redact_url, redacted_error

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

# Objects this size or smaller are fetched whole, `AHEAD` at a time in threads; larger ones stream in blocks.
WHOLE_BELOW = 8 << 20
AHEAD = 4
STREAM_BLOCK = 8 << 20

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


def parse(url: str) -> Location:
    """A storage URL's parts; a URL that names no bucket is an error naming it (redacted)."""
    try:
        parts = urlsplit(url)
    except ValueError as e:
        raise _core.InvalidArgumentError(f"{redact_url(url)}: not a URL: {e}") from None
    scheme = parts.scheme.lower()
    kind = SCHEMES.get(scheme)
    if kind is None:
        raise _core.InvalidArgumentError(f"{redact_url(url)}: unknown scheme (known: {', '.join(sorted(SCHEMES))})")
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
            f"{redact_url(url)}: no bucket (write {scheme}://BUCKET/PATH; credentials go in storage_options)"
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
    if endpoint is not None:
        scheme, host = _endpoint(str(endpoint))
        kwargs.update(blob_storage_authority=host, blob_storage_scheme=scheme)
        kwargs.update(dfs_storage_authority=host, dfs_storage_scheme=scheme)
    return pafs.AzureFileSystem(**kwargs)


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
    """What listing found: each object's key and size, in name order, and what the window skipped."""

    objects: list[tuple[str, int]] = field(default_factory=list)
    skipped_folders: list[str] = field(default_factory=list)
    skipped_objects: list[str] = field(default_factory=list)


def _glob_chars(text: str) -> bool:
    return any(c in text for c in "*?[")


def list_objects(fs: Any, location: Location, window: Window, secrets: Sequence[Secret]) -> Listing:
    """The objects the location's pattern names, listed folder by folder from its fixed prefix (a folder the
    pattern cannot reach, or a date folder outside the window, is never listed)."""
    import pyarrow.fs as pafs

    pattern = [p for p in location.pattern.split("/") if p]
    fixed: list[str] = []
    for p in pattern:
        if _glob_chars(p):
            break
        fixed.append(p)
    out = Listing()
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
            out.objects.append((key, found.size))
            return out
        pattern = [*pattern, "**", "*"]

    def walk(folder: list[str]) -> Iterator[tuple[str, int]]:
        path = "/".join([base, *folder])
        try:
            entries = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True, recursive=False))
        except Exception as e:  # noqa: BLE001 - a foreign client's error, redacted
            where = location.url("/".join(folder) + "/") if folder else f"{location.scheme}://{location.bucket}/"
            raise _error(e, secrets, f"{where}: cannot list") from None
        for entry in sorted(entries, key=lambda e: e.path):
            name = entry.base_name
            parts = [*folder, name]
            if entry.type == pafs.FileType.Directory:
                states = _states(pattern, parts)
                if not any(s < len(pattern) for s in states):
                    continue
                if not window.keeps_folder(name):
                    out.skipped_folders.append("/".join(parts) + "/")
                    continue
                yield from walk(parts)
            elif entry.type == pafs.FileType.File and len(pattern) in _states(pattern, parts):
                if window.keeps_object(name):
                    yield "/".join(parts), entry.size
                else:
                    out.skipped_objects.append("/".join(parts))

    out.objects.extend(walk(fixed))
    return out


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


class Objects:
    """The objects of a run, opened in order by the core: ``open(i)`` gives object ``i`` whole (fetched ahead in
    threads when small) or as a stream (when large). ``opened`` lists what was opened, in order."""

    def __init__(self, fs: Any, location: Location, keys: Sequence[tuple[str, int]], secrets: Sequence[Secret]):
        self.fs, self.location, self.keys, self.secrets = fs, location, list(keys), list(secrets)
        self.names = [location.url(k) for k, _ in self.keys]
        self.opened: list[str] = []
        self._ahead: dict[int, Future[bytes]] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _path(self, index: int) -> str:
        return f"{self.location.bucket}/{self.keys[index][0]}"

    def _fetch(self, index: int) -> bytes:
        with self.fs.open_input_stream(self._path(index), compression=None) as f:
            return bytes(f.read())

    def _schedule(self, index: int) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(AHEAD, thread_name_prefix="tokenprice-objects")
        for i in range(index, min(index + AHEAD, len(self.keys))):
            if i not in self._ahead and self.keys[i][1] <= WHOLE_BELOW:
                self._ahead[i] = self._pool.submit(self._fetch, i)

    def open(self, index: int) -> Any:
        with self._lock:
            self.opened.append(self.names[index])
            try:
                self._schedule(index)
                ahead = self._ahead.pop(index, None)
                if ahead is not None:
                    return ahead.result()
                stream = self.fs.open_input_stream(self._path(index), compression=None, buffer_size=STREAM_BLOCK)
                return _Stream(stream, self.names[index], self.secrets)
            except _core.TokenPriceError:
                raise
            except Exception as e:  # noqa: BLE001 - a foreign client's error, redacted
                raise redacted_error(e, self.secrets, "cannot open the object") from None

    def close(self) -> None:
        if self._pool is not None:
            for f in self._ahead.values():
                f.cancel()
            self._pool.shutdown(wait=True)
            self._pool = None
        self._ahead.clear()


@dataclass
class Plan:
    """A run over objects: their names (URLs), the opener and what the listing skipped."""

    objects: Objects
    listing: Listing


def plan(
    urls: Sequence[str],
    storage_options: Mapping[str, Any] | None,
    since: Any = None,
    until: Any = None,
) -> Plan:
    """Lists the objects the URLs name (all in one store and bucket), the window applied to their names."""
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
    listing = Listing()
    seen: set[str] = set()
    for url, location in zip(urls, locations, strict=True):
        found = list_objects(fs, location, window, secrets)
        if not found.objects and not found.skipped_objects and not found.skipped_folders:
            raise _core.InputError(f"{redact(redact_url(url), secrets)}: no object matches")
        for key, size in found.objects:
            if key not in seen:
                seen.add(key)
                listing.objects.append((key, size))
        listing.skipped_folders += found.skipped_folders
        listing.skipped_objects += found.skipped_objects
    return Plan(Objects(fs, first, listing.objects, secrets), listing)


def price_objects(
    run: Callable[..., Any],
    objects: Objects,
    **kwargs: Any,
) -> Any:
    """Runs the core over the objects (``run`` is ``_core.price_log_files`` with its keywords, the objects' names
    as its paths and their ``open``), closing the fetching threads whatever happens."""
    try:
        return run(objects.names, open=objects.open, **kwargs)
    finally:
        objects.close()

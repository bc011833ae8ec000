"""A minimal Azure Blob service on 127.0.0.1 and a free port, blobs in memory: the requests pyarrow's
``AzureFileSystem`` (the Azure C++ SDK inside pyarrow) sends to read logs, answered as Azure's REST reference
documents them, for tests/test_object_storage.py. No Blob server installs here (Azurite is on npm only;
docs/object-storage.md), so this one is written from Microsoft's documentation:

- URLs are path-style, as for the storage emulator: ``http://127.0.0.1:PORT/ACCOUNT/CONTAINER/BLOB``
  ("Emulated storage service URI", learn.microsoft.com/rest/api/storageservices/list-blobs and get-blob), the
  account the emulator's well-known one (``devstoreaccount1`` and its published key,
  learn.microsoft.com/azure/storage/common/storage-connect-azurite, "Use a well-known storage account and key").
- List Blobs, ``GET /ACCOUNT/CONTAINER?restype=container&comp=list`` with ``prefix``, ``delimiter``, ``marker``,
  ``maxresults`` and ``include=metadata`` (an empty ``Metadata`` per blob: these have none) (learn.microsoft.com/rest/api/storageservices/list-blobs; enumerating-blob-resources: names in
  alphabetical order, at most 5,000 per answer or ``maxresults``, a ``BlobPrefix`` for each name's part up to the
  delimiter, each counting against the maximum, and ``NextMarker`` empty when the listing is complete, opaque
  otherwise; the ``EnumerationResults`` XML with ``Blob`` ``Name`` and ``Properties`` ``Last-Modified``,
  ``Etag``, ``Content-Length``, ``Content-Type``, ``BlobType``). A page may hold fewer entries than asked (the
  service does so at partition boundaries, list-blobs "Remarks"): ``page_size`` makes every listing page, so the
  client's following of ``NextMarker`` is exercised.
- Get Container Properties, ``HEAD``/``GET /ACCOUNT/CONTAINER?restype=container``
  (learn.microsoft.com/rest/api/storageservices/get-container-properties: ``ETag``, ``Last-Modified``).
- Get Blob Properties, ``HEAD /ACCOUNT/CONTAINER/BLOB`` (.../get-blob-properties: ``Content-Length`` the blob's
  size, ``Last-Modified``, ``ETag``, ``x-ms-blob-type``, ``x-ms-creation-time``).
- Get Blob, ``GET /ACCOUNT/CONTAINER/BLOB`` (.../get-blob), whole (200) or a range from ``x-ms-range`` or, when
  absent, ``Range``: ``bytes=START-`` or ``bytes=START-END`` (206 with ``Content-Range``; a start past the end is
  416 ``InvalidRange``; .../specifying-the-range-header-for-blob-service-operations).
- Every answer carries ``x-ms-request-id``, ``x-ms-version`` (the version the request asked for) and ``Date``, and
  echoes ``x-ms-client-request-id`` (the operations' "Response headers"). Errors are the documented body
  ``<Error><Code>…</Code><Message>…</Message></Error>`` with ``x-ms-error-code`` (.../status-and-error-codes2;
  an answer to HEAD has the header only, no body): 404 ``ContainerNotFound`` and ``BlobNotFound``
  (.../blob-service-error-codes).
- The hierarchical-namespace probe pyarrow makes before listing or looking up a path: the Data Lake
  ``HEAD /ACCOUNT/CONTAINER/?action=getAccessControl`` (learn.microsoft.com/rest/api/storageservices/
  datalakestoragegen2/path/getproperties: "Hierarchical Namespace must be enabled for the account"). This server
  is a flat-namespace account and answers it 400, as Azure does for one (apache/arrow
  ``cpp/src/arrow/filesystem/azurefs.cc``, ``CheckIfHierarchicalNamespaceIsEnabled``, quotes Azure's "This
  operation is only supported on a hierarchical namespace account" and reads a 400 as HNS disabled), so pyarrow
  takes its Blob-API paths, the ones a Logpush destination account (a plain Blob container) takes.

Authorization: every request must carry an ``Authorization: SharedKey devstoreaccount1:<signature>`` header
(learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key) or, instead, a shared access signature in
its query (``sv`` and ``sig`` among the SAS parameters; .../create-service-sas, .../create-account-sas), whose
parameters are then set aside before the operation is read. Without either the answer is 401
``NoAuthenticationInformation``, with another scheme, or for an account other than ``devstoreaccount1`` (in the
header or the path), 403 ``AuthenticationFailed``; but no signature is
checked: any value is accepted. So a client that sent no credentials, or another account's, or a SAS spliced
into the path instead of the query, fails here as on Azure; a wrong key or signature does not.

Anything else — another method, operation, query parameter or header this server does not implement (writes,
other ``include=`` datasets, snapshots, conditional headers, leases) — is answered 501 ``NotImplemented`` naming
it, and recorded in ``refused``: the tests' ``store`` fixture fails a test during which the list grew, so a change
in what pyarrow sends fails loudly instead of being answered wrongly. ``requests`` records every request (method,
path and query, range). Blobs are put and deleted through this object's own methods (the tests
do not go through tokenprice or pyarrow to set up the container).
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit
from xml.sax.saxutils import escape

# The emulator's well-known account and key, published by Microsoft (storage-connect-azurite): not a secret.
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
MAX_RESULTS = 5000  # the documented most a listing answer holds
# A shared access signature's query parameters (create-service-sas, create-account-sas,
# create-user-delegation-sas): an authorization, not part of the operation.
_SAS_PARAMS = {
    "sv", "ss", "sr", "st", "se", "sp", "si", "sip", "spr", "skoid", "sktid", "srt", "skt", "ske", "skv", "sks",
    "saoid", "suoid", "scid", "sdd", "ses", "sig", "rscc", "rscd", "rsce", "rscl", "rsct",
}  # fmt: skip

# Request headers every client sends, or that do not change what is read: anything else is refused, so a
# conditional or leased read is not answered as a plain one.
_HEADERS = {
    "authorization",
    "host",
    "user-agent",
    "x-ms-client-request-id",
    "x-ms-date",
    "date",
    "x-ms-version",
    "accept",
    "accept-encoding",
    "connection",
    "content-length",
    "range",
    "x-ms-range",
}


def _http_date(seconds: float) -> str:
    return formatdate(seconds, usegmt=True)


@dataclass
class Blob:
    body: bytes
    modified: float
    etag: str = ""

    def __post_init__(self) -> None:
        self.etag = '"0x' + hashlib.sha1(self.body).hexdigest()[:16].upper() + '"'


@dataclass
class Container:
    created: float
    blobs: dict[str, Blob] = field(default_factory=dict)


class Refused(Exception):
    """A request this server does not implement."""


class BlobServer:
    """The service: its containers, the requests it refused, and its endpoint once started."""

    def __init__(self, page_size: int = MAX_RESULTS) -> None:
        self.page_size = page_size
        self.containers: dict[str, Container] = {}
        self.refused: list[str] = []
        self.requests: list[tuple[str, str, str | None]] = []
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._clock = 1_772_323_200.0  # 2026-03-01T00:00:00Z: each put a second later, so times are stable

    # The tests' side: set up containers and blobs without a client.
    def create_container(self, name: str) -> None:
        with self.lock:
            self.containers.setdefault(name, Container(self._tick()))

    def put(self, container: str, name: str, body: bytes) -> None:
        with self.lock:
            self.containers[container].blobs[name] = Blob(bytes(body), self._tick())

    def delete(self, container: str, name: str) -> None:
        with self.lock:
            del self.containers[container].blobs[name]

    def _tick(self) -> float:
        self._clock += 1
        return self._clock

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> BlobServer:
        handler = type("Handler", (_Handler,), {"service": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="azure-blob-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> BlobServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class _Error(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    service: BlobServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # quiet: the tests read `requests` and `refused` instead

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.request_id = str(uuid.uuid4())
        with self.service.lock:
            self.service.requests.append(
                (self.command, self.path, self.headers.get("x-ms-range") or self.headers.get("Range"))
            )
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        try:
            self._check_authorization(query)
            self._route(url.path, {k: v for k, v in query.items() if k not in _SAS_PARAMS})
        except _Error as e:
            self._error(e.status, e.code, e.message)
        except Refused as e:
            with self.service.lock:
                self.service.refused.append(f"{self.command} {self.path}: {e}")
            self._error(501, "NotImplemented", f"the test Blob server does not implement {e}")

    # Every method reaches the one dispatcher, which refuses what it does not implement (writes included).
    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = _serve

    def _check_authorization(self, query: dict[str, str]) -> None:
        given = self.headers.get("Authorization")
        if not given and "sv" in query and "sig" in query:
            return  # a shared access signature (not checked)
        if not given:
            raise _Error(401, "NoAuthenticationInformation", "Server failed to authenticate the request.")
        scheme, _, credential = given.partition(" ")
        if scheme != "SharedKey" or not credential.startswith(f"{ACCOUNT}:"):
            raise _Error(403, "AuthenticationFailed", f"expected a SharedKey signature of {ACCOUNT}")

    def _route(self, path: str, query: dict[str, str]) -> None:
        parts = path.split("/", 3)  # "", account, container, blob
        if len(parts) > 1 and parts[1] != ACCOUNT:
            # Credentials for this account cannot be another's (a SAS is checked against its own account).
            raise _Error(403, "AuthenticationFailed", f"this server holds the account {ACCOUNT} only")
        if len(parts) < 3 or not parts[2]:
            raise Refused(f"the path {path!r} (this server serves /{ACCOUNT}/CONTAINER[/BLOB])")
        container, blob = unquote(parts[2]), unquote(parts[3]) if len(parts) > 3 else ""
        unknown = sorted(h for h in self.headers.keys() if h.lower() not in _HEADERS)
        if unknown:
            raise Refused(f"the request headers {unknown}")
        if self.command == "HEAD" and query == {"action": "getAccessControl"} and blob == "":
            # The Data Lake ACL probe: this is a flat-namespace account.
            raise _Error(
                400,
                "HierarchicalNamespaceNotEnabled",
                "This operation is only supported on a hierarchical namespace account.",
            )
        if self.command not in ("GET", "HEAD"):
            raise Refused(f"the method {self.command} (this server only reads)")
        if blob == "" and query == {"restype": "container"}:
            self._container_properties(container)
        elif (
            blob == "" and self.command == "GET" and query.get("restype") == "container" and query.get("comp") == "list"
        ):
            self._list(container, query)
        elif blob and not query:
            self._blob(container, blob)
        else:
            raise Refused(f"the operation {self.command} with query {query}")

    def _container(self, name: str) -> Container:
        found = self.service.containers.get(name)
        if found is None:
            raise _Error(404, "ContainerNotFound", "The specified container does not exist.")
        return found

    def _container_properties(self, name: str) -> None:
        with self.service.lock:
            container = self._container(name)
        self._answer(
            200,
            b"",
            {
                "Last-Modified": _http_date(container.created),
                "ETag": f'"0x{int(container.created):X}"',
                "x-ms-lease-status": "unlocked",
                "x-ms-lease-state": "available",
                "x-ms-has-immutability-policy": "false",
                "x-ms-has-legal-hold": "false",
            },
        )

    def _list(self, name: str, query: dict[str, str]) -> None:
        allowed = {"restype", "comp", "prefix", "delimiter", "marker", "maxresults", "include"}
        if set(query) - allowed:
            raise Refused(f"the List Blobs parameters {sorted(set(query) - allowed)}")
        # include=metadata: each blob's user metadata (none here, so an empty element); other datasets are not
        # served (snapshots, versions, deleted blobs...).
        metadata = query.get("include") == "metadata"
        if "include" in query and not metadata:
            raise Refused(f"include={query['include']} (only include=metadata)")
        prefix, delimiter, marker = query.get("prefix", ""), query.get("delimiter", ""), query.get("marker", "")
        try:
            most = int(query.get("maxresults", MAX_RESULTS))
        except ValueError:
            raise _Error(400, "InvalidQueryParameterValue", "maxresults must be an integer") from None
        if most <= 0:
            raise _Error(400, "OutOfRangeQueryParameterValue", "maxresults must be greater than zero")
        most = min(most, MAX_RESULTS, self.service.page_size)
        with self.service.lock:
            blobs = dict(self._container(name).blobs)
        # Entries in name order: a blob, or the prefix up to and including the delimiter after `prefix`.
        entries: dict[str, Blob | None] = {}
        for key, blob in blobs.items():
            if not key.startswith(prefix):
                continue
            cut = key.find(delimiter, len(prefix)) if delimiter else -1
            if cut >= 0:
                entries[key[: cut + len(delimiter)]] = None
            else:
                entries[key] = blob
        names = [n for n in sorted(entries) if n >= marker]
        page, rest = names[:most], names[most:]
        out = [
            '<?xml version="1.0" encoding="utf-8"?>',
            f'<EnumerationResults ServiceEndpoint="{escape(self._base())}/" ContainerName="{escape(name)}">',
        ]
        for tag, value in (("Prefix", prefix), ("Marker", marker), ("Delimiter", delimiter)):
            if tag in ("Prefix", "Delimiter") and not query.get(tag.lower()):
                continue
            out.append(f"<{tag}>{escape(value)}</{tag}>")
        if "maxresults" in query:
            out.append(f"<MaxResults>{query['maxresults']}</MaxResults>")
        out.append("<Blobs>")
        for entry in page:
            listed = entries[entry]
            if listed is None:
                out.append(f"<BlobPrefix><Name>{escape(entry)}</Name></BlobPrefix>")
                continue
            out.append(
                f"<Blob><Name>{escape(entry)}</Name><Properties>"
                f"<Creation-Time>{_http_date(listed.modified)}</Creation-Time>"
                f"<Last-Modified>{_http_date(listed.modified)}</Last-Modified>"
                f"<Etag>{escape(listed.etag)}</Etag>"
                f"<Content-Length>{len(listed.body)}</Content-Length>"
                "<Content-Type>application/octet-stream</Content-Type>"
                "<BlobType>BlockBlob</BlobType>"
                "<LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState>"
                "</Properties>" + ("<Metadata />" if metadata else "") + "</Blob>"
            )
        out.append("</Blobs>")
        out.append(f"<NextMarker>{escape(rest[0])}</NextMarker>" if rest else "<NextMarker />")
        out.append("</EnumerationResults>")
        self._answer(200, "".join(out).encode(), {"Content-Type": "application/xml"})

    def _blob(self, container: str, name: str) -> None:
        with self.service.lock:
            blob = self._container(container).blobs.get(name)
        if blob is None:
            raise _Error(404, "BlobNotFound", "The specified blob does not exist.")
        size = len(blob.body)
        headers = {
            "Last-Modified": _http_date(blob.modified),
            "x-ms-creation-time": _http_date(blob.modified),
            "ETag": blob.etag,
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
            "x-ms-blob-type": "BlockBlob",
            "x-ms-lease-status": "unlocked",
            "x-ms-lease-state": "available",
            "x-ms-server-encrypted": "true",
        }
        wanted = self.headers.get("x-ms-range") or self.headers.get("Range")
        if self.command == "HEAD" or wanted is None:
            if self.command == "HEAD" and wanted is not None:
                raise Refused("a range on Get Blob Properties")
            self._answer(200, blob.body, headers, length=size)
            return
        start, end = self._range(wanted, size)
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        self._answer(206, blob.body[start : end + 1], headers)

    def _range(self, text: str, size: int) -> tuple[int, int]:
        unit, _, span = text.partition("=")
        first, dash, last = span.partition("-")
        if unit != "bytes" or not dash or not first.isdigit() or (last and not last.isdigit()) or "," in span:
            raise Refused(f"the range {text!r} (bytes=START- or bytes=START-END)")
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
        if start >= size or end < start:
            raise _Error(416, "InvalidRange", "The range specified is invalid for the current size of the resource.")
        return start, end

    def _base(self) -> str:
        return f"http://{self.headers.get('Host', '127.0.0.1')}/{ACCOUNT}"

    def _answer(self, status: int, body: bytes, headers: dict[str, str], length: int | None = None) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self._common_headers()
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _common_headers(self) -> None:
        self.send_header("x-ms-request-id", self.request_id)
        self.send_header("x-ms-version", self.headers.get("x-ms-version") or "2026-02-06")
        if self.headers.get("x-ms-client-request-id"):
            self.send_header("x-ms-client-request-id", self.headers["x-ms-client-request-id"])

    def _error(self, status: int, code: str, message: str) -> None:
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}\n"
            f"RequestId:{self.request_id}\nTime:{_http_date(time.time())}</Message></Error>"
        ).encode()
        if self.command == "HEAD":
            # An answer to HEAD has no body, so it names no body type: the client reads x-ms-error-code (a
            # Content-Type of XML would have the SDK parse the empty body, and fail).
            self._answer(status, b"", {"x-ms-error-code": code})
            return
        self._answer(status, body, {"Content-Type": "application/xml", "x-ms-error-code": code})

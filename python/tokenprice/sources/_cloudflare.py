"""Cloudflare AI Gateway's Logs API, pulled into day-partitioned JSON Lines that ``price_logs`` reads.

The API (``GET /accounts/{account_id}/ai-gateway/gateways/{gateway_id}/logs``; its parameters as
cloudflare-python ``types/ai_gateway/log_list_params.py``, its items as ``log_list_response.py`` and
cloudflare-typescript ``src/resources/ai-gateway/logs.ts``) pages by ``page``/``per_page`` in the v4 envelope
(``{"success", "errors", "messages", "result": [...], "result_info": {"page", "per_page", ...}}``; the SDKs'
``V4PagePaginationArray`` asks for ``page + 1`` until a page comes back short). It has no cursor, so a pull walks
ascending ``created_at`` windows: each request starts at the last ``created_at`` written (``start_date``,
``order_by=created_at``, ``order_by_direction=asc``, ``page=1``), records already written at that instant are
told apart by ``id``, and ``page`` goes up only when a whole page brought nothing new (more records than a page at
one instant). A window that restarts at the checkpoint is not shifted by records the gateway deletes at the old
end (its log limit) nor by records added at the new end while the pull runs.

What has been written is checkpointed in a state file beside the output (the last ``created_at``, the ids seen at
it, the next file number), written atomically after the files it covers are complete, so a pull that is killed
continues where it stopped and never writes a record twice: files numbered past the checkpoint (written, not yet
checkpointed) are removed on the next run and their records fetched again. Each file is written under a hidden
temporary name and renamed when closed, so ``DIR/**/*.jsonl.gz`` never matches a half-written file.

HTTP is the standard library's ``urllib.request``: a pull makes one GET per page, sequentially, so a client
library would bring a dependency and nothing else. Rate limits (HTTP 429, ``Retry-After`` in seconds: Cloudflare's
API limits, developers.cloudflare.com/fundamentals/api/reference/limits/) are waited out; 5xx answers, broken
connections and bodies that are not the documented JSON (a truncated page) are retried with exponential backoff
a bounded number of times, then a clear error names the URL and the last answer. The API token is sent only in the
``Authorization`` header and is removed from every message, log line and state (``tokenprice._secrets``).
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import json
import logging
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from tokenprice import _core

if TYPE_CHECKING:
    from tokenprice._ledger import PricedLogs, Reconciliation
from tokenprice._secrets import Secret, redact, redact_url, redacted_error, secret

log = logging.getLogger("tokenprice.sources.cloudflare")

API = "https://api.cloudflare.com/client/v4"
# The environment variable Cloudflare's own SDKs read the API token from (cloudflare-python, cloudflare-typescript).
TOKEN_ENV = "CLOUDFLARE_API_TOKEN"
STATE_VERSION = 1

# The list's scalar query parameters a caller may filter by (LogListParams, cloudflare-python
# types/ai_gateway/log_list_params.py); the window and the order are the pull's own.
FILTERS = frozenset(
    {
        "cached",
        "feedback",
        "max_cost",
        "max_duration",
        "max_tokens_in",
        "max_tokens_out",
        "max_total_tokens",
        "min_cost",
        "min_duration",
        "min_tokens_in",
        "min_tokens_out",
        "min_total_tokens",
        "model",
        "model_type",
        "provider",
        "request_content_type",
        "response_content_type",
        "search",
        "success",
    }
)

_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:?\d{2})?)?$")


class _Stamp:
    """An instant read from the API's text: ordered to the nanosecond, its text kept to send back as given."""

    __slots__ = ("at", "nanos", "text")

    def __init__(self, text: str, what: str) -> None:
        m = _TIME.match(text.strip()) if isinstance(text, str) else None
        if m is None:
            raise _core.InvalidArgumentError(f"{what}: {text!r} is not an ISO 8601 date-time")
        y, mo, d, h, mi, s, frac, tz = m.groups()
        try:
            at = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), tzinfo=timezone.utc)
            if tz and tz not in "Zz":
                sign = 1 if tz[0] == "+" else -1
                hours, minutes = int(tz[1:3]), int(tz[-2:])
                at -= sign * timedelta(hours=hours, minutes=minutes)
        except (ValueError, OverflowError):
            raise _core.InvalidArgumentError(f"{what}: {text!r} is not a valid date-time") from None
        self.at = at
        self.nanos = int((frac or "0").ljust(9, "0"))
        self.text = text

    @property
    def key(self) -> tuple[datetime, int]:
        return (self.at, self.nanos)

    def iso(self) -> str:
        """UTC, ``2026-12-01T10:00:00.123Z``, as the API writes ``created_at``."""
        base = self.at.strftime("%Y-%m-%dT%H:%M:%S")
        frac = f"{self.nanos:09d}".rstrip("0")
        return f"{base}.{frac[:3].ljust(3, '0') if len(frac) <= 3 else frac}Z" if frac else f"{base}Z"


def _bound(value: Any, what: str) -> _Stamp | None:
    """``since`` / ``until``: None, a datetime (naive = UTC), a date (its midnight UTC) or ISO 8601 text."""
    if value is None:
        return None
    if isinstance(value, datetime):
        at = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
        stamp = _Stamp(at.strftime("%Y-%m-%dT%H:%M:%S") + f".{at.microsecond:06d}Z", what)
    elif isinstance(value, date):
        stamp = _Stamp(value.isoformat(), what)
    elif isinstance(value, str):
        stamp = _Stamp(value, what)
    else:
        raise _core.InvalidTypeError(f"{what} must be a datetime, a date or ISO 8601 text, got {type(value).__name__}")
    stamp.text = stamp.iso()
    return stamp


def _json_text(value: Any) -> str:
    """JSON text of a value parsed with ``parse_float=Decimal``: numbers written back digit for digit (a cost of
    ``0.00266200000000000001`` stays that, where a float would round it)."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_json_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_json_text(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


@dataclass
class CloudflarePull:
    """What a pull did: ``paths`` are every file of this gateway in ``out`` (this run's and earlier runs'), ready
    for ``price_logs(pull.paths)``; ``written`` the records this run wrote, ``skipped`` those it had already
    written (seen again at a window's start), ``early`` those the API returned from before the window's start (it
    did not honour ``start_date``: a warning is logged), ``outside`` those the API returned outside [since, until);
    ``requests`` and ``retries`` the HTTP calls; ``state`` the checkpoint file."""

    out: Path
    state: Path
    paths: list[str] = field(default_factory=list)
    new_paths: list[str] = field(default_factory=list)
    written: int = 0
    skipped: int = 0
    early: int = 0
    outside: int = 0
    pages: int = 0
    requests: int = 0
    retries: int = 0
    last_created_at: str | None = None

    def price_logs(self, **options: Any) -> PricedLogs:
        """``tokenprice.price_logs`` over every file pulled (``paths``), with the same options."""
        from tokenprice._ledger import price_logs

        return price_logs(self.paths, **options)

    def reconcile(
        self, tolerance: tuple[str | Decimal | int, str | Decimal | int] = ("0.000001", "0.01"), **options: Any
    ) -> Reconciliation:
        """Prices everything pulled (``options`` as ``price_logs``'s) and checks the gateway's reported ``cost``
        against tokenprice's: what ``tokenprice pull cloudflare --verify`` prints."""
        return self.price_logs(**options).reconcile(tolerance)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are not followed: urllib would send the Authorization header to wherever they point."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _Api:
    """GETs of the Logs API: retries, backoff and the envelope's checks. Messages never hold the token."""

    def __init__(
        self,
        token: Secret,
        *,
        timeout: float,
        max_retries: int,
        backoff: float,
        max_backoff: float,
        sleep: Callable[[float], object],
    ) -> None:
        self.token = token
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.sleep = sleep
        self.requests = 0
        self.retries = 0
        self.opener = urllib.request.build_opener(_NoRedirect)

    def _clean(self, text: str) -> str:
        return redact(text, [self.token])

    def get(self, url: str) -> dict[str, Any]:
        shown = self._clean(redact_url(url))
        request = urllib.request.Request(
            url,
            headers={
                "Authorization": f"Bearer {self.token.reveal()}",
                "Accept": "application/json",
                "User-Agent": "tokenprice",
            },
        )
        last = ""
        for attempt in range(self.max_retries + 1):
            wait: float | None = None
            self.requests += 1
            try:
                with self.opener.open(request, timeout=self.timeout) as resp:
                    body = resp.read()
                try:
                    page = json.loads(body, parse_float=Decimal)
                except (ValueError, UnicodeDecodeError) as e:
                    last = f"the body is not JSON ({len(body)} bytes: {type(e).__name__}: {self._clean(str(e))})"
                else:
                    problem = _envelope_problem(page)
                    if problem is None:
                        return page  # type: ignore[no-any-return]
                    if isinstance(page, dict) and page.get("success") is False:
                        # The API said no (a bad parameter): asking again would get the same answer.
                        raise _core.InputError(f"Cloudflare Logs API {shown}: {self._clean(problem)}")
                    last = problem
            except urllib.error.HTTPError as e:
                detail = _error_detail(e)
                last = f"HTTP {e.code}{': ' + self._clean(detail) if detail else ''}"
                if e.code == 429:
                    wait = _retry_after(e.headers.get("Retry-After"))
                elif e.code < 500 and e.code != 408:
                    raise _core.InputError(f"Cloudflare Logs API {shown}: {last}") from None
            except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
                reason = getattr(e, "reason", None) or e
                last = f"{type(e).__name__}: {self._clean(str(reason))}"
            except ValueError as e:  # urllib's own refusals (a malformed URL or header): not worth a retry
                raise redacted_error(e, [self.token], f"Cloudflare Logs API {shown}") from None
            if attempt == self.max_retries:
                break
            if wait is None:
                wait = min(self.max_backoff, self.backoff * 2**attempt)
            self.retries += 1
            log.info("Cloudflare Logs API %s: %s; retrying in %.3g s", shown, last, wait)
            self.sleep(wait)
        raise _core.InputError(f"Cloudflare Logs API {shown}: gave up after {self.max_retries + 1} attempts: {last}")


def _count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _envelope_problem(page: Any) -> str | None:
    """What is wrong with a page in the v4 envelope, or None when it is one."""
    if not isinstance(page, dict):
        return f"the body is JSON but not the v4 envelope (a {type(page).__name__})"
    if page.get("success") is False:
        errors = page.get("errors") or []
        text = "; ".join(
            f"{e.get('code', '')} {e.get('message', '')}".strip() if isinstance(e, dict) else str(e) for e in errors
        )
        return f"the API answered success=false: {text or 'no error given'}"
    if not isinstance(page.get("result"), list):
        return "the body has no result list"
    return None


def _error_detail(e: urllib.error.HTTPError) -> str:
    """The v4 error envelope's messages of an error answer (``{"errors": [{"code", "message"}], ...}``)."""
    try:
        body = e.read()
        data = json.loads(body)
    except Exception:  # noqa: BLE001 - an unreadable error body is no more than its status
        return ""
    if isinstance(data, dict):
        problem = _envelope_problem({**data, "success": False})
        return (problem or "").removeprefix("the API answered success=false: ")
    return ""


def _retry_after(value: str | None) -> float | None:
    """``Retry-After``: seconds, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _safe(name: str, what: str) -> str:
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
        raise _core.InvalidArgumentError(f"{what} {name!r}: expected 1-64 letters, digits, '-', '_' or '.'")
    return name


def _filters(filters: Mapping[str, Any] | None) -> dict[str, str]:
    if filters is None:
        return {}
    if not isinstance(filters, Mapping):
        raise _core.InvalidTypeError(f"filters must be a mapping of query parameters, got {type(filters).__name__}")
    out = {}
    for key, value in filters.items():
        if key not in FILTERS:
            raise _core.InvalidArgumentError(
                f"filters: {key!r} is not a filter of the Logs API list; one of {', '.join(sorted(FILTERS))}"
            )
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return dict(sorted(out.items()))


class _Writer:
    """This run's records, grouped by day, written as ``DIR/<day>/<gateway>-<seq>.jsonl.gz`` (or ``.zst``)."""

    def __init__(self, out: Path, prefix: str, compression: str, level: int | None) -> None:
        self.out = out
        self.prefix = prefix
        self.compression = compression
        self.level = level
        self.suffix = ".jsonl.gz" if compression == "gzip" else ".jsonl.zst"

    def name(self, day: str, seq: int) -> Path:
        return self.out / day / f"{self.prefix}-{seq:06d}{self.suffix}"

    def _dump(self, path: Path, data: bytes) -> None:
        with open(path, "wb") as raw:
            if self.compression == "gzip":
                with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=self.level or 6, mtime=0) as z:
                    z.write(data)
            else:
                import zstandard

                raw.write(zstandard.ZstdCompressor(level=self.level or 3).compress(data))
            raw.flush()
            os.fsync(raw.fileno())

    def write(self, lines: Mapping[str, list[str]], seq: int) -> list[Path]:
        """Writes each day's lines to its file under a hidden name, flushes it to disk, then renames it."""
        done = []
        for day, texts in sorted(lines.items()):
            final = self.name(day, seq)
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = final.with_name(f".{final.name}.tmp")
            self._dump(tmp, "".join(t + "\n" for t in texts).encode("utf-8"))
            done.append((tmp, final))
        for tmp, final in done:
            os.replace(tmp, final)
        return [final for _, final in done]


def _write_state(path: Path, state: Mapping[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(state, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _read_state(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise _core.InputError(
            f"{path}: the pull's state file cannot be read ({type(e).__name__}); remove it and "
            "the files it covers to pull again"
        ) from None
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        raise _core.InputError(f"{path}: not a tokenprice Cloudflare pull state (version {STATE_VERSION})")
    return state


def cloudflare(
    account_id: str,
    gateway_id: str,
    *,
    out: str | os.PathLike[str],
    token: str | Secret | None = None,
    token_env: str | None = None,
    token_file: str | os.PathLike[str] | None = None,
    since: datetime | date | str | None = None,
    until: datetime | date | str | None = None,
    filters: Mapping[str, Any] | None = None,
    per_page: int = 50,
    compression: str = "gzip",
    level: int | None = None,
    flush_every: int = 10_000,
    base_url: str = API,
    timeout: float = 30.0,
    max_retries: int = 6,
    backoff: float = 1.0,
    max_backoff: float = 60.0,
    sleep: Callable[[float], object] = time.sleep,
    max_pages: int | None = None,
) -> CloudflarePull:
    """Pulls a gateway's logs from Cloudflare AI Gateway's Logs API into ``out``, one folder per day
    (``out/2026-12-01/<gateway>-000001.jsonl.gz``), each record as the API gives it (the ``cloudflare_logs`` format
    ``price_logs`` reads). Run it again to continue: only records not yet written are fetched and written.

    ``token`` (a str or ``tokenprice._secrets.Secret``), ``token_env`` (an environment variable's name) or
    ``token_file`` (a file holding it): the API token (AI Gateway Read); with none of them, the environment variable
    ``CLOUDFLARE_API_TOKEN`` as Cloudflare's SDKs read it. ``since`` / ``until``: the records created in [since,
    until) (datetime, date or ISO 8601 text; naive = UTC). ``filters``: the list's own query parameters
    (``{"provider": "openai", "success": True}``), fixed for the life of ``out``'s state. ``compression``:
    ``"gzip"`` or ``"zstd"`` (needs ``zstandard``: ``pip install tokenprice[zstd]``). Records are written in files
    of up to ``flush_every`` records, and the checkpoint moves after each file is complete. ``base_url`` is the API
    root (``https://api.cloudflare.com/client/v4``). Rate limits and failures: see the module's text; ``sleep``
    is the clock the waits use, ``max_pages`` stops after that many pages (a pull in slices)."""
    account_id = _safe(account_id, "account_id")
    gateway_id = _safe(gateway_id, "gateway_id")
    if token is None and token_env is None and token_file is None:
        token_env = TOKEN_ENV
    key = secret(token, env=token_env, file=token_file, what="the Cloudflare API token")
    if not re.fullmatch(r"[\x21-\x7e]+", key.reveal()):
        # http.client would refuse it with an error that quotes it.
        raise _core.InvalidArgumentError(
            f"the Cloudflare API token ({key.origin}) holds a space, a control or a non-ASCII character"
        )
    for name, number in (("per_page", per_page), ("flush_every", flush_every), ("max_retries", max_retries)):
        if isinstance(number, bool) or not isinstance(number, int) or number < (0 if name == "max_retries" else 1):
            raise _core.InvalidArgumentError(f"{name} must be a positive int, got {number!r}")
    if compression not in ("gzip", "zstd"):
        raise _core.InvalidArgumentError(f"compression must be 'gzip' or 'zstd', got {compression!r}")
    if compression == "zstd":
        try:
            import zstandard  # noqa: F401
        except ImportError:
            raise _core.InvalidArgumentError(
                "compression='zstd' needs the zstandard package: pip install tokenprice[zstd]"
            ) from None
    lo, hi = _bound(since, "since"), _bound(until, "until")
    if lo is not None and hi is not None and lo.key >= hi.key:
        raise _core.InvalidArgumentError(f"since ({lo.text}) must be before until ({hi.text})")
    wanted = _filters(filters)
    if not isinstance(base_url, str) or not re.match(r"https?://", base_url):
        raise _core.InvalidArgumentError(f"base_url must be an http(s) URL, got {redact_url(str(base_url))!r}")

    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    prefix = gateway_id
    state_path = root / f".tokenprice-cloudflare-{account_id}-{gateway_id}.json"
    with _exclusive(state_path.with_suffix(".lock")):
        state = _read_state(state_path) or {
            "version": STATE_VERSION,
            "account_id": account_id,
            "gateway_id": gateway_id,
            "filters": wanted,
            "cursor": None,
            "ids_at_cursor": [],
            "next_seq": 1,
            "written": 0,
        }
        if state.get("filters") != wanted:
            raise _core.InvalidArgumentError(
                f"{state_path}: this folder was pulled with filters {state.get('filters')}, not {wanted}; use another "
                "folder for other filters"
            )
        writer = _Writer(root, prefix, compression, level)
        _remove_unfinished(root, prefix, int(state["next_seq"]))

        cursor = _Stamp(state["cursor"], f"{state_path}: cursor") if state["cursor"] else None
        seen: set[str] = set(state["ids_at_cursor"])
        api = _Api(key, timeout=timeout, max_retries=max_retries, backoff=backoff, max_backoff=max_backoff, sleep=sleep)
        result = CloudflarePull(out=root, state=state_path)
        endpoint = (
            f"{base_url.rstrip('/')}/accounts/{urllib.parse.quote(account_id)}/ai-gateway/gateways/"
            f"{urllib.parse.quote(gateway_id)}/logs"
        )
        pending: dict[str, list[str]] = {}
        n_pending = 0
        page_no = 1

        def flush() -> None:
            nonlocal pending, n_pending
            if n_pending:
                seq = int(state["next_seq"])
                result.new_paths += [str(p) for p in writer.write(pending, seq)]
                state["next_seq"] = seq + 1
            state["cursor"] = cursor.text if cursor is not None else None
            state["ids_at_cursor"] = sorted(seen)
            state["written"] = int(state["written"]) + n_pending
            _write_state(state_path, state)
            result.written += n_pending
            pending, n_pending = {}, 0

        while max_pages is None or result.pages < max_pages:
            start = cursor if cursor is not None and (lo is None or cursor.key >= lo.key) else lo
            query = {
                **wanted,
                "order_by": "created_at",
                "order_by_direction": "asc",
                "page": str(page_no),
                "per_page": str(per_page),
            }
            if start is not None:
                query["start_date"] = start.text
            if hi is not None:
                query["end_date"] = hi.text
            url = f"{endpoint}?{urllib.parse.urlencode(query)}"
            page = api.get(url)
            result.pages += 1
            items = page["result"]
            fresh = 0
            read = []
            for i, item in enumerate(items):
                where = f"Cloudflare Logs API {redact_url(url)}: result[{i}]"
                if not isinstance(item, dict) or not isinstance(item.get("id"), str) or "created_at" not in item:
                    raise _core.InputError(f"{where}: not a log item with an id and a created_at")
                read.append((_Stamp(item["created_at"], f"{where}.created_at"), item))
            # In created_at order (the order asked for): a page the API sent out of order loses nothing of its own.
            read.sort(key=lambda pair: (pair[0].key, pair[1]["id"]))
            for at, item in read:
                if (lo is not None and at.key < lo.key) or (hi is not None and at.key >= hi.key):
                    result.outside += 1
                    continue
                if cursor is not None and at.key < cursor.key:
                    # Before the window's start: written already, or created before records already pulled.
                    result.early += 1
                    continue
                if cursor is not None and at.key == cursor.key and item["id"] in seen:
                    result.skipped += 1
                    continue
                if cursor is None or at.key > cursor.key:
                    cursor, seen = at, set()
                seen.add(item["id"])
                pending.setdefault(at.at.strftime("%Y-%m-%d"), []).append(_json_text(item))
                n_pending += 1
                fresh += 1
            # The last page: shorter than the page size the API used (result_info.per_page, if it says), unless
            # result_info.total_count says more records follow (an API that capped per_page without saying so).
            got = page.get("result_info")
            info: dict[str, Any] = got if isinstance(got, dict) else {}
            told, total = info.get("per_page"), info.get("total_count")
            size = min(per_page, told) if _count(told) and told > 0 else per_page
            more = _count(total) and (page_no - 1) * size + len(items) < total
            log.info(
                "Cloudflare Logs API page %d from %s: %d items, %d new",
                page_no,
                query.get("start_date"),
                len(items),
                fresh,
            )
            if n_pending >= flush_every:
                flush()
            if not items or (len(items) < size and not more):
                break
            # New records: the next window starts at the last one; none (a page of one instant): the next page.
            page_no = 1 if fresh else page_no + 1
        flush()
        result.requests, result.retries = api.requests, api.retries
        if result.early:
            log.warning(
                "Cloudflare Logs API: %d records came from before the window's start_date; they were not written "
                "(written already, or logged late: pull again with since= into a new folder to be sure)",
                result.early,
            )
        result.last_created_at = state["cursor"]
        result.paths = sorted(str(p) for p in root.glob(f"*/{prefix}-*{writer.suffix}"))
        return result


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Holds an exclusive lock on ``path`` (where the OS has ``flock``): two pulls of one gateway into one folder
    would write the same records."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock
        yield
        return
    with open(path, "a") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise _core.InputError(f"{path}: another pull of this gateway into this folder is running") from None
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _remove_unfinished(root: Path, prefix: str, next_seq: int) -> None:
    """Files a killed pull left: hidden temporaries, and files numbered past the checkpoint (their records are
    fetched again)."""
    for path in root.glob(f"*/.{prefix}-*.tmp"):
        path.unlink()
    for path in root.glob(f"*/{prefix}-*.jsonl.*"):
        m = re.fullmatch(re.escape(prefix) + r"-(\d+)\.jsonl\.(gz|zst)", path.name)
        if m and int(m.group(1)) >= next_seq:
            log.info("removing %s: written after the last checkpoint; its records are pulled again", path)
            path.unlink()

"""A LiteLLM proxy's spend logs, read from its Postgres database and priced (docs/litellm-postgres.md).

The proxy writes one row per call into ``LiteLLM_SpendLogs`` (the model of that name in LiteLLM's
``litellm/proxy/schema.prisma``; the row is built by ``get_logging_payload`` in
``litellm/proxy/spend_tracking/spend_tracking_utils.py``). The rows are read in pages of ``batch_rows``, ordered by
(``startTime``, ``request_id``) — LiteLLM's own index on the table — through ADBC's PostgreSQL driver (Apache
Arrow's: the server sends the page with ``COPY ... TO STDOUT (FORMAT binary)`` and the driver decodes it straight
into Arrow). Postgres serializes each row to JSON (``row_to_json``: ``metadata`` and ``request_tags`` as the JSON
they hold, ``spend`` at the shortest digits that give back the double, times in ISO 8601), so each row is read by
the ``litellm`` format's reader exactly as the same row in a JSON Lines export would be. The core reads each
page's Arrow column of texts in place (``_core.price_log_files(pages=...)``: no Python string per row) as one run, so
``keep_rows``, ``spill``, ``max_line_bytes`` and ``progress`` mean what they mean for files.

Incremental: a ``state`` file keeps the checkpoint, the last (``startTime``, ``request_id``) priced; a rerun reads
only the rows after it, so no row is priced twice. The password (in the URL, or given as ``password=``) never
appears in an error, a repr or the state file.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import types
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from tokenprice import _core
from tokenprice._core import PriceBook
from tokenprice._ledger import LogOptions, PricedLogs
from tokenprice._secrets import Secret, redact, redact_url, redacted_error

DEFAULT_TABLE = "LiteLLM_SpendLogs"
SCHEMES = ("postgresql://", "postgres://")

# The columns the `litellm` reader looks at, in the order of schema.prisma's model (a table of an older LiteLLM
# lacks some: only those it has are read). Never `messages`, `response` or `proxy_server_request` (the prompts and
# answers, when the proxy stores them: large, and not usage), nor `api_key` (the key's hash).
COLUMNS = (
    "request_id",
    "call_type",
    "spend",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "startTime",
    "endTime",
    "request_duration_ms",
    "completionStartTime",
    "model",
    "model_group",
    "custom_llm_provider",
    "api_base",
    "user",
    "metadata",
    "cache_hit",
    "request_tags",
    "team_id",
    "organization_id",
    "end_user",
    "session_id",
    "status",
)
REQUIRED = ("request_id", "startTime")


@dataclass(frozen=True)
class Checkpoint:
    """The last row priced: its ``startTime`` (UTC, as the table holds it) and ``request_id``."""

    start_time: datetime
    request_id: str


def is_database_url(source: object) -> bool:
    """Whether ``price_logs`` was given a Postgres URL (a str, or a Secret holding one)."""
    text = source.reveal() if isinstance(source, Secret) else source
    return isinstance(text, str) and text.lower().startswith(SCHEMES)


class _Database:
    """The URL to connect with, what to show of it, and the secrets to keep out of every message."""

    def __init__(self, url: str | Secret, password: str | Secret | None) -> None:
        raw = url.reveal() if isinstance(url, Secret) else url
        if not isinstance(raw, str) or not raw.lower().startswith(SCHEMES):
            shown = "a Secret" if isinstance(url, Secret) else repr(redact_url(raw) if isinstance(raw, str) else raw)
            raise _core.InvalidArgumentError(f"the database URL must start with postgresql:// (got {shown})")
        parts = urlsplit(raw)
        self.secrets: list[Secret | str | None] = [parts.password]
        if password is not None:
            value = password.reveal() if isinstance(password, Secret) else password
            if not isinstance(value, str) or not value:
                raise _core.InvalidTypeError("password must be a non-empty str or a tokenprice.Secret")
            self.secrets.append(value)
            user = quote(parts.username or "", safe="")
            host = parts.netloc.rpartition("@")[2]
            raw = urlunsplit((parts.scheme, f"{user}:{quote(value, safe='')}@{host}", parts.path, parts.query, ""))
        self.url = raw
        self.shown = redact(redact_url(raw), self.secrets)

    def error(self, e: BaseException, what: str) -> Exception:
        return redacted_error(e, self.secrets, f"{self.shown}: {what}")


def _literal(value: str) -> str:
    if "\x00" in value:
        raise _core.InvalidArgumentError(f"{value!r} holds a NUL character, which Postgres text cannot")
    return "'" + value.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    if not name or "\x00" in name:
        raise _core.InvalidArgumentError(f"table={name!r} is not a table name")
    return '"' + name.replace('"', '""') + '"'


def _table_parts(table: str) -> tuple[str | None, str]:
    """``table`` as (schema, name): ``LiteLLM_SpendLogs`` or ``schema.LiteLLM_SpendLogs`` (case kept, as Prisma
    creates it quoted)."""
    if not isinstance(table, str):
        raise _core.InvalidTypeError(f"table must be a str, got {type(table).__name__}")
    schema, dot, name = table.rpartition(".")
    return (schema if dot else None), name


def _utc(value: Any, what: str) -> datetime | None:
    """A bound as the table holds times: UTC without a zone (LiteLLM writes ``startTime`` in UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise _core.InvalidArgumentError(f"{what}={value!r} is not an ISO 8601 date or time") from None
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        raise _core.InvalidTypeError(f"{what} must be a datetime, a date or ISO text, got {type(value).__name__}")
    at: datetime = value
    if at.tzinfo is not None:
        at = at.astimezone(timezone.utc).replace(tzinfo=None)
    return at


def _load_state(path: Path, table: str) -> Checkpoint | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as e:
        raise _core.InputError(f"{path}: cannot read the state file: {e.strerror}") from None
    try:
        state = json.loads(text)
        if state["table"] != table:
            raise _core.InvalidArgumentError(
                f"{path}: this state file is the checkpoint of table {state['table']!r}, not {table!r}"
            )
        return Checkpoint(datetime.fromisoformat(state["startTime"]), str(state["request_id"]))
    except (ValueError, KeyError, TypeError) as e:
        raise _core.InputError(f"{path}: not a checkpoint of tokenprice.sources.litellm ({e!r})") from None


def _save_state(path: Path, table: str, checkpoint: Checkpoint) -> None:
    state = {"table": table, "startTime": checkpoint.start_time.isoformat(), "request_id": checkpoint.request_id}
    part = path.with_name(path.name + ".part")
    try:
        part.write_text(json.dumps(state) + "\n", encoding="utf-8")
        os.replace(part, path)  # atomic: a crash leaves the old checkpoint or the new one
    except OSError as e:
        raise _core.InputError(f"{path}: cannot write the state file: {e.strerror}") from None


def _connect(db: _Database) -> Any:
    try:
        import adbc_driver_postgresql.dbapi as dbapi
    except ImportError:
        raise _core.InputError(
            "reading Postgres needs ADBC's PostgreSQL driver: pip install 'tokenprice[postgres]'"
        ) from None
    try:
        return dbapi.connect(db.url, autocommit=True)
    except dbapi.Error as e:
        raise db.error(e, "cannot connect") from None


def _columns(cur: Any, db: _Database, table: str) -> list[str]:
    """The columns of ``table`` the reader uses (an error naming the table when it is missing)."""
    schema, name = _table_parts(table)
    where = f"table_name = {_literal(name)} AND table_schema = " + (
        _literal(schema) if schema is not None else "current_schema()"
    )
    cur.execute(f"SELECT column_name FROM information_schema.columns WHERE {where}")
    have = {row[0] for row in cur.fetchall()}
    if not have:
        cur.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
        )
        tables = [row[0] for row in cur.fetchall()]
        raise _core.InputError(f"{db.shown}: no table {table!r} (tables there: {tables or 'none'})")
    missing = [c for c in REQUIRED if c not in have]
    if missing:
        raise _core.InputError(f"{db.shown}: table {table!r} has no column {missing[0]!r}: not LiteLLM's spend logs")
    return [c for c in COLUMNS if c in have]


def _page_query(
    table: str,
    columns: Sequence[str],
    since: datetime | None,
    until: datetime | None,
    after: Checkpoint | None,
    rows: int,
) -> str:
    schema, name = _table_parts(table)
    source = (_identifier(schema) + "." if schema is not None else "") + _identifier(name)
    where = []
    if since is not None:
        where.append(f'"startTime" >= {_literal(since.isoformat())}::timestamp')
    if until is not None:
        where.append(f'"startTime" < {_literal(until.isoformat())}::timestamp')
    if after is not None:
        at = _literal(after.start_time.isoformat())
        where.append(f'("startTime", request_id) > ({at}::timestamp, {_literal(after.request_id)})')
    cols = ", ".join(_identifier(c) for c in columns)
    condition = f"WHERE {' AND '.join(where)} " if where else ""
    page = f'SELECT {cols} FROM {source} {condition}ORDER BY "startTime", request_id LIMIT {rows}'
    return f'SELECT row_to_json(r)::text, r."startTime", r.request_id FROM ({page}) r ORDER BY 2, 3'


def _last_row(page: Any) -> Checkpoint:
    """The place of a page's last row (its ``startTime``, ``request_id``): where the next page starts."""
    return Checkpoint(page.column(1)[-1].as_py(), page.column(2)[-1].as_py())


class _Pages:
    """The rows of ``table`` as pages of Arrow columns for the core (``next``): each row's JSON text and its
    ``request_id``, ``batch_rows`` at a time. Each page is fetched on a worker thread while the core prices the
    page before (the core prices with the GIL released; the driver reads the server's COPY stream in C++), so
    reading and pricing overlap and two pages at most are held at a time. ``checkpoint`` is the last row handed to
    the core."""

    def __init__(
        self,
        db: _Database,
        table: str,
        since: datetime | None,
        until: datetime | None,
        after: Checkpoint | None,
        batch_rows: int,
    ) -> None:
        import adbc_driver_manager

        self.db, self.table, self.since, self.until, self.batch_rows = db, table, since, until, batch_rows
        self.checkpoint, self._after, self._fetched = after, after, 0
        self._error = adbc_driver_manager.Error
        self._conn = _connect(db)
        self._pool: ThreadPoolExecutor | None = None
        self._cur: Any = None
        try:
            self._cur = self._conn.cursor()
            try:
                self._cur.execute("SET TIME ZONE 'UTC'")
                self._columns = _columns(self._cur, db, table)
            except self._error as e:
                raise db.error(e, f"cannot read the columns of {table!r}") from None
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="tokenprice-litellm")
            self._ahead: Future[Any] | None = self._pool.submit(self._fetch)
        except BaseException:
            self.close()
            raise

    def _fetch(self) -> Any:
        query = _page_query(self.table, self._columns, self.since, self.until, self._after, self.batch_rows)
        try:
            self._cur.execute(query)
            page = self._cur.fetch_arrow_table()
        except self._error as e:
            raise self.db.error(e, f"reading {self.table!r} after {self._fetched} rows") from None
        if page.num_rows:
            self._after = _last_row(page)
            self._fetched += page.num_rows
        return page

    def next(self) -> Any:
        """The next page (the texts, the request ids), or None after the last."""
        if self._ahead is None:
            return None
        page = self._ahead.result()
        # A full page may have more after it: the next one is fetched while this one is priced.
        full = page.num_rows == self.batch_rows
        self._ahead = self._pool.submit(self._fetch) if full and self._pool is not None else None
        if page.num_rows == 0:
            return None
        self.checkpoint = _last_row(page)
        return page.select([0, 2])

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)  # a fetch under way ends before its connection
        try:
            if self._cur is not None:
                self._cur.close()
            self._conn.close()
        except self._error:
            pass  # a connection the server dropped: nothing left to close


def litellm(
    url: str | Secret,
    table: str = DEFAULT_TABLE,
    *,
    since: datetime | date | str | None = None,
    until: datetime | date | str | None = None,
    state: str | os.PathLike[str] | None = None,
    batch_rows: int = 10_000,
    password: str | Secret | None = None,
    by: str | Sequence[str] | None = None,
    period: str | None = None,
    tz: str = "UTC",
    book: PriceBook | None = None,
    provider: str | None = None,
    model: str | None = None,
    service_tier: str | None = None,
    num_threads: int | None = None,
    progress: Callable[[str, int, int], object] | bool | None = None,
    keep_rows: bool = True,
    spill: bool | None = None,
    spill_dir: str | os.PathLike[str] | None = None,
    max_line_bytes: int | None = None,
) -> PricedLogs:
    """Prices a LiteLLM proxy's spend logs from its Postgres database: every row of ``table`` with ``since <=
    startTime < until`` (times in UTC when they carry no zone, as LiteLLM writes them) and after the checkpoint
    in ``state`` (a JSON file, read when it exists and written when the run ends), read ``batch_rows`` at a time.

    ``url`` is ``postgresql://user:password@host:port/database`` (a str or a ``tokenprice.Secret``, e.g.
    ``tokenprice.secret(env="DATABASE_URL")``, the variable the proxy itself reads), or without the password
    given as ``password=``. Each row is read by the ``litellm`` format: ``spend`` is the reported cost
    (``reconcile()`` compares it), the team, user, end user, tags and the caller's ``spend_logs_metadata`` keys
    are label columns, and a row that cannot be priced is a reject whose ``source`` names its ``request_id``.
    The other keywords are ``price_logs``'s, with the same meaning: ``keep_rows=False`` keeps only the totals by
    ``by``/``period``; ``spill``/``spill_dir`` write the priced lines to disk (by default once 64 MB of rows were
    read); a row whose JSON is longer than ``max_line_bytes`` is a reject naming its size; ``progress`` is True (a
    bar) or a callable called after each page with (the table, bytes of rows read, rows read so far)."""
    from tokenprice._ledger import _check_period, _price_files, _price_totals, _reporter

    if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
        raise _core.InvalidArgumentError(f"batch_rows must be a positive int, got {batch_rows!r}")
    if max_line_bytes is not None and (isinstance(max_line_bytes, bool) or not isinstance(max_line_bytes, int)):
        raise _core.InvalidTypeError(f"max_line_bytes must be an int, got {type(max_line_bytes).__name__}")
    db = _Database(url, password)
    _table_parts(table)
    low, high = _utc(since, "since"), _utc(until, "until")
    options = LogOptions(
        book=book, format="litellm", provider=provider, model=model, service_tier=service_tier, num_threads=num_threads
    ).core()
    if by is not None or period is not None or not keep_rows:
        _check_period(period, tz)
    state_path = Path(os.fspath(state)) if state is not None else None
    after = _load_state(state_path, table) if state_path is not None else None
    name = f"{db.shown} {table}"
    report, bar = _reporter(progress, [])
    try:
        pages = _Pages(db, table, low, high, after, batch_rows)
        try:
            run = functools.partial(_core.price_log_files, [name], options, pages=pages.next, key="request_id")
            if keep_rows:
                result = _price_files(run, report, max_line_bytes, spill, spill_dir)
                if by is not None or period is not None:
                    result.last_summary = result.summary(by, period, tz)
            else:
                result = _price_totals(run, report, max_line_bytes, by, period, tz)
        finally:
            pages.close()
    finally:
        if bar is not None:
            bar.close()
    result.book = book
    if state_path is not None and pages.checkpoint is not None:
        _save_state(state_path, table, pages.checkpoint)
    return result


class _Callable(types.ModuleType):
    """This module called as its function: importing ``tokenprice.sources.litellm`` binds the module's name in
    ``tokenprice.sources``, where ``sources.litellm(url)`` must still price."""

    def __call__(self, *args: Any, **kwargs: Any) -> PricedLogs:
        return litellm(*args, **kwargs)


sys.modules[__name__].__class__ = _Callable

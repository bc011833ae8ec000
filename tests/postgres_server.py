"""A throwaway PostgreSQL server (Debian's `postgresql`, `make postgres`) and LiteLLM's spend-log table in it, for
`tests/test_postgres_source.py` and `benches/bench_postgres.py`.

`initdb` and `postgres` refuse to run as root: as root they run as the `postgres` user (`runuser -u postgres --`)
with the data folder owned by it. The server listens on 127.0.0.1 on a free port, on no Unix socket, with a
password (scram-sha-256) for the user `litellm`, and is stopped (and its folder removed) by `stop()`.

The table is LiteLLM's own: `spend_logs_ddl()` translates the `LiteLLM_SpendLogs` model of `schema.prisma` in the
pinned LiteLLM wheel (`make litellm-wheel`; `litellm/proxy/schema.prisma`) to the DDL Prisma's migrations create
(String → text, Int → integer, Float → double precision, DateTime → timestamp(3), Json → jsonb, `@id` → the primary
key, `@default`, `@@index`).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "s3cr3t-pässword/with:odd@chars"
USER = "litellm"
DATABASE = "litellm"


def binaries() -> Path | None:
    """The folder of Debian's PostgreSQL server binaries (the newest version installed), or None."""
    base = Path("/usr/lib/postgresql")
    versions = sorted((p for p in base.glob("*/bin") if (p / "postgres").exists()), key=lambda p: int(p.parent.name))
    return versions[-1] if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """`start()` initializes a data folder and starts the server; `url` connects as `litellm` with its password."""

    def __init__(self) -> None:
        found = binaries()
        if found is None:
            raise RuntimeError("Debian's postgresql is not installed: run `make postgres`")
        self.bin = found
        self.root = Path(tempfile.mkdtemp(prefix="tokenprice-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *args] if self.as_root else list(args)

    def start(self) -> PostgresServer:
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self.as_root:
            shutil.chown(self.root, "postgres")
            shutil.chown(pwfile, "postgres")
        subprocess.run(
            self._run(
                str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, "--pwfile", str(pwfile),
                "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
            ),
            check=True,
            capture_output=True,
        )  # fmt: skip
        pwfile.unlink()
        log = open(self.root / "server.log", "wb")  # noqa: SIM115 (open while the server runs)
        self.process = subprocess.Popen(
            self._run(
                str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port), "-h", "127.0.0.1",
                "-k", "", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()  # a server that did not come up is not left running
            raise
        return self

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + 60
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited: {(self.root / 'server.log').read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                self.execute(f"CREATE DATABASE {DATABASE}", database="postgres")
                return
            except (OSError, RuntimeError) as e:
                last = e
                time.sleep(0.2)
        raise RuntimeError(
            f"postgres did not start ({type(last).__name__}: {last}): {(self.root / 'server.log').read_text()[-2000:]}"
        )

    def url(self, password: str = PASSWORD, database: str = DATABASE) -> str:
        from urllib.parse import quote

        return f"postgresql://{USER}:{quote(password, safe='')}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = DATABASE):  # type: ignore[no-untyped-def]
        import adbc_driver_postgresql.dbapi as dbapi

        return dbapi.connect(self.url(database=database), autocommit=True)

    def execute(self, sql: str, database: str = DATABASE) -> None:
        try:
            with self.connect(database) as conn, conn.cursor() as cur:
                cur.execute(sql)
        except ImportError:
            raise  # the driver is missing (make dev installs it): not a server still starting
        except Exception as e:  # the driver's errors: the server is not up yet
            raise RuntimeError(str(e)) from None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # smart shutdown
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


# -- LiteLLM's table --------------------------------------------------------------------------------------------

_TYPES = {
    "String": "TEXT",
    "Int": "INTEGER",
    "BigInt": "BIGINT",
    "Float": "DOUBLE PRECISION",
    "Boolean": "BOOLEAN",
    "DateTime": "TIMESTAMP(3)",
    "Json": "JSONB",
}


def litellm_wheel() -> Path:
    found = sorted((ROOT / "benches" / ".cache" / "litellm").glob("litellm-*.whl"))
    if not found:
        raise RuntimeError("the pinned LiteLLM wheel is missing: run `make litellm-wheel`")
    return found[-1]


def spend_logs_model() -> str:
    """The `LiteLLM_SpendLogs` model of LiteLLM's own `schema.prisma` (litellm/proxy/schema.prisma in the wheel)."""
    with zipfile.ZipFile(litellm_wheel()) as wheel:
        schema = wheel.read("litellm/proxy/schema.prisma").decode()
    found = re.search(r"^model LiteLLM_SpendLogs \{\n(.*?)^\}", schema, re.S | re.M)
    if found is None:
        raise RuntimeError("no model LiteLLM_SpendLogs in schema.prisma")
    return found.group(1)


def spend_logs_ddl(table: str = "LiteLLM_SpendLogs") -> list[str]:
    """The statements that create the table as Prisma's migration does, from the model's fields and indexes."""
    columns, indexes = [], []
    for raw in spend_logs_model().splitlines():
        line = raw.split("//", 1)[0].strip()
        if not line:
            continue
        if line.startswith("@@index"):
            names = re.findall(r"\w+", line[len("@@index") :])
            cols = ", ".join(f'"{n}"' for n in names)
            indexes.append(f'CREATE INDEX "{table}_{"_".join(names)}_idx" ON "{table}" ({cols})')
            continue
        name, kind, *rest = line.split(None, 2)
        attrs = rest[0] if rest else ""
        optional = kind.endswith("?")
        sql = f'"{name}" {_TYPES[kind.rstrip("?")]}'
        if not optional:
            sql += " NOT NULL"
        default = re.search(r"@default\s*\((.*?)\)\s*(?:@|$)", attrs + " ")
        if default is not None:
            value = default.group(1).strip()
            if value == "now(":
                value = "CURRENT_TIMESTAMP"
            elif value.startswith('"'):
                value = "'" + value.strip('"').replace("'", "''") + "'"
                if kind.rstrip("?") == "Json":
                    value += "::jsonb"
            sql += f" DEFAULT {value}"
        if "@id" in attrs:
            sql += " PRIMARY KEY"
        columns.append(sql)
    return [f'CREATE TABLE "{table}" (\n  ' + ",\n  ".join(columns) + "\n)", *indexes]


def insert_rows(server: PostgresServer, rows: list[dict[str, object]], table: str = "LiteLLM_SpendLogs") -> None:
    """Rows (dicts as `get_logging_payload` builds them: JSON columns as JSON text) inserted through Arrow (ADBC's
    bulk ingest into a temporary table, then INSERT ... SELECT casting the JSON text to jsonb and the times to
    timestamps), so thousands of rows take a moment."""
    import pyarrow as pa

    names = sorted({k for r in rows for k in r})
    data = {n: pa.array([None if r.get(n) is None else str(r[n]) for r in rows], pa.string()) for n in names}
    staged = pa.table(data)
    with server.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = '" + table + "'")
        kinds = dict(cur.fetchall())
        cur.adbc_ingest("staged_rows", staged, mode="replace", temporary=True)
        cols = ", ".join(f'"{n}"' for n in names)
        casts = ", ".join(f'"{n}"::{_cast(kinds[n])}' for n in names)
        cur.execute(f'INSERT INTO "{table}" ({cols}) SELECT {casts} FROM staged_rows')


def _cast(kind: str) -> str:
    return {"timestamp without time zone": "timestamp(3)", "double precision": "double precision"}.get(kind, kind)


def generate_rows(
    server: PostgresServer,
    base: list[dict[str, object]],
    n: int,
    first: int = 0,
    table: str = "LiteLLM_SpendLogs",
) -> None:
    """``n`` rows as `test_postgres_source.rows(n, first)` builds them (the ``base`` rows in turn, each with its own
    request id, time, team, end user and tags), made by the server in one ``INSERT ... SELECT`` over
    ``generate_series``: a million rows take a minute where building and sending them from Python takes an hour.
    (`test_postgres_source.py` checks that the two give the same table.)"""
    with server.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT column_name FROM information_schema.columns WHERE table_name = '" + table + "'")
        # created_at and updated_at are the time of the insert (their default), as for rows sent from Python.
        names = [row[0] for row in cur.fetchall() if row[0] not in ("created_at", "updated_at")]
    cur_base = "tokenprice_base_rows"
    server.execute(f'DROP TABLE IF EXISTS "{cur_base}"')
    for statement in spend_logs_ddl(cur_base):
        server.execute(statement)
    # The base rows, keyed by their place (request_id is the table's primary key).
    insert_rows(server, [{**row, "request_id": str(k)} for k, row in enumerate(base)], cur_base)
    start = "timestamp '2025-10-01 12:00:00' + make_interval(secs => 7 * i) + (i % 1000) * interval '1 millisecond'"
    made = {
        "request_id": "'req-' || lpad(i::text, 7, '0')",
        "startTime": "g.at",
        "endTime": "g.at + interval '800 milliseconds'",
        "completionStartTime": """CASE WHEN b."completionStartTime" IS NOT NULL
            THEN g.at + interval '800 milliseconds' END""",
        "metadata": """b.metadata || jsonb_build_object('user_api_key_team_id', 'team-' || i % 3,
            'spend_logs_metadata', jsonb_build_object('tenant', (ARRAY['acme', 'globex'])[i % 2 + 1],
            'feature', 'search'))""",
        "team_id": "'team-' || i % 3",
        "end_user": "'customer-' || i % 5",
        "request_tags": "jsonb_build_array('prod', 'shard-' || i % 4)",
    }
    cols = ", ".join(f'"{c}"' for c in names)
    values = ", ".join(made.get(c, f'b."{c}"') for c in names)
    server.execute(
        f'INSERT INTO "{table}" ({cols}) SELECT {values} '
        f"FROM generate_series({first}, {first + n - 1}) AS i "
        f'JOIN "{cur_base}" b ON b.request_id = (i % {len(base)})::text '
        f"CROSS JOIN LATERAL (SELECT {start} AS at) g"
    )
    server.execute(f'DROP TABLE "{cur_base}"')

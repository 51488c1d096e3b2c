"""The analytics store: ClickHouse, embedded through chDB or a server through clickhouse-connect.

Both engines run the same SQL, and values are bound server-side through `{name:Type}`
parameters, never formatted into the text. Rows come back as ClickHouse writes them in
JSONEachRow, from both engines alike: integers (64-bit ones too) as int, floats as float, Bool as
bool, and dates, times and UUIDs as strings.

Time is UTC throughout: each session runs with `session_timezone = 'UTC'`, aware datetimes are
converted to UTC and naive ones are taken to be UTC, whatever the host or server time zone.

Tables are named without a database in SQL. The store creates its database when it opens and
makes it the session's default: chDB with `USE`, a server client through its `database`.

What chDB 4.4 does with sessions (verified, and relied on here):

* A process has one embedded engine, bound to the first data path opened: a session on another
  path fails ("EmbeddedServer already initialized with path ...") until every session on the
  first path is closed. Reopening then takes about 20 ms, and data on disk is kept.
* Several sessions on the same path coexist, each with its own current database: `USE` lasts for
  the life of that session, across worker threads and after failed statements, and does not
  leak into other sessions. A new session starts in `default`.
* Parameter values reach ClickHouse as text in its escaped format: a raw tab or newline is
  refused and backslashes are unescaped. `_param_text` escapes them, as clickhouse-connect does
  for a server.

Calls are blocking, so they run on the store's own worker threads: one for chDB, which serves as
the lock (a chDB session is not to be used concurrently). Unlike an asyncio.Lock held around
`asyncio.to_thread`, it stays exclusive when an awaiting task is cancelled, since the call it
started still runs to its end on that thread; and a slow report cannot take the default
executor's threads, which asyncio needs for DNS lookups.
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast
from uuid import UUID

from apex_mediation.stores.analytics_metrics import ANALYTICS_QUERIES, ANALYTICS_QUERY_SECONDS

__all__ = [
    "Analytics",
    "AnalyticsError",
    "ChdbAnalytics",
    "ClickHouseServerAnalytics",
    "open_analytics",
]

SERVER_THREADS = 8
# Pinned for both engines so that they return the same rows: money is 64-bit integer micros.
SESSION_SETTINGS: dict[str, str | int] = {
    "session_timezone": "UTC",
    "output_format_json_quote_64bit_integers": 0,
}

T = TypeVar("T")
Params = Mapping[str, object]


class AnalyticsError(RuntimeError):
    """An engine error, named by the first line of the statement that caused it."""

    def __init__(self, statement: str, reason: str) -> None:
        super().__init__(f"{statement}: {reason}")
        self.statement = statement


class Analytics(Protocol):
    database: str

    async def query(self, sql: str, params: Params | None = None) -> list[dict[str, Any]]: ...

    async def query_bytes(self, sql: str, params: Params | None, fmt: str) -> bytes:
        """The result as ClickHouse writes it in output format `fmt` (CSVWithNames, Parquet)."""
        ...

    async def command(self, sql: str, params: Params | None = None) -> None: ...

    async def insert(
        self, table: str, rows: Sequence[Mapping[str, Any]], dedup_token: str | None = None
    ) -> None:
        """Insert rows. With `dedup_token`, resending the same batch with the same token is a
        no-op, in the table and in the materialized views fed from it (for tables created with
        `non_replicated_deduplication_window`)."""
        ...

    async def insert_bytes(self, table: str, data: bytes, fmt: str) -> None:
        """Insert rows already encoded in ClickHouse's format `fmt` (Native, from
        `query_bytes`): how a backup's tables are restored, types and all."""
        ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


# -- the chokepoint --------------------------------------------------------------------------


class _Store:
    """What both engines share: every call goes through `_execute`."""

    # The exceptions an engine raises for a failed statement; wrapped into AnalyticsError.
    _engine_errors: tuple[type[Exception], ...] = ()

    def __init__(self, database: str, threads: int) -> None:
        self.database = _identifier(database)
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="analytics")
        self._closed = False

    async def _execute(self, kind: str, statement: str, call: Callable[[], T]) -> T:
        statement = _first_line(statement)
        if self._closed:
            raise AnalyticsError(statement, "the analytics store is closed")
        started = time.perf_counter()
        try:
            result = await asyncio.get_running_loop().run_in_executor(self._executor, call)
        except Exception as exc:
            ANALYTICS_QUERIES.labels(kind, "error").inc()
            if isinstance(exc, self._engine_errors):
                raise AnalyticsError(statement, _first_line(str(exc))) from exc
            raise
        finally:
            ANALYTICS_QUERY_SECONDS.labels(kind).observe(time.perf_counter() - started)
        ANALYTICS_QUERIES.labels(kind, "ok").inc()
        return result

    async def _close_with(self, call: Callable[[], None]) -> None:
        if self._closed:
            return
        try:
            await self._execute("close", "close", call)
        finally:
            self._closed = True
            self._executor.shutdown(wait=False)


# -- chDB ------------------------------------------------------------------------------------


class _ChdbResult(Protocol):
    def bytes(self) -> bytes: ...


class _ChdbSession(Protocol):
    def query(
        self, sql: str, fmt: str = ..., params: dict[str, str] | None = ...
    ) -> _ChdbResult: ...

    def close(self) -> None: ...


class ChdbAnalytics(_Store):
    """ClickHouse inside this process (chDB), data under `path`."""

    _engine_errors = (RuntimeError,)  # chdb.ChdbError and chDB's connection errors

    def __init__(self, path: Path, database: str) -> None:
        super().__init__(database, threads=1)
        self.path = path
        self._session: _ChdbSession | None = None

    @classmethod
    async def open(cls, path: Path, database: str = "apex") -> ChdbAnalytics:
        store = cls(path, database)
        try:
            await store._execute("open", f"open chDB at {path}", store._connect)
            await store.command(f"CREATE DATABASE IF NOT EXISTS {_quote(store.database)}")
            await store.command(f"USE {_quote(store.database)}")
        except BaseException:
            await store.close()
            raise
        return store

    def _connect(self) -> None:
        from chdb import session  # imported late: loading the engine takes a moment

        # Resolved because chDB compares engine paths as text: ./var and /abs/var must match.
        self.path = self.path.resolve()
        self.path.mkdir(parents=True, exist_ok=True)
        chdb_session = session.Session(str(self.path))  # type: ignore[no-untyped-call]
        self._session = cast(_ChdbSession, chdb_session)
        for name, value in SESSION_SETTINGS.items():
            self._session.query(f"SET {name} = {_literal(value)}")

    def _run(self, sql: str, params: dict[str, str] | None, fmt: str = "JSONEachRow") -> bytes:
        if self._session is None:
            raise RuntimeError("the chDB session is not open")
        return self._session.query(sql, fmt, params=params).bytes()

    async def query(self, sql: str, params: Params | None = None) -> list[dict[str, Any]]:
        bound = _chdb_params(sql, params)
        return await self._execute("query", sql, lambda: _json_rows(self._run(sql, bound)))

    async def query_bytes(self, sql: str, params: Params | None, fmt: str) -> bytes:
        bound = _chdb_params(sql, params)
        fmt = _identifier(fmt)
        return await self._execute("query", sql, lambda: self._run(sql, bound, fmt))

    async def command(self, sql: str, params: Params | None = None) -> None:
        bound = _chdb_params(sql, params)
        await self._execute("command", sql, lambda: self._run(sql, bound))

    async def insert(
        self, table: str, rows: Sequence[Mapping[str, Any]], dedup_token: str | None = None
    ) -> None:
        columns = _columns(rows)
        if not columns:
            return
        # Unknown keys fail here as they do on a server, instead of being dropped silently.
        extra = "".join(
            f", {name} = {_literal(value)}" for name, value in _insert_settings(dedup_token).items()
        )
        statement = (
            f"INSERT INTO {_quote(self.database)}.{_quote(_identifier(table))} "
            f"SETTINGS input_format_skip_unknown_fields = 0{extra} FORMAT JSONEachRow"
        )

        def call() -> None:
            lines = (json.dumps(row, default=_json_default, ensure_ascii=False) for row in rows)
            self._run("\n".join([statement, *lines]), None)

        await self._execute("insert", statement, call)

    async def insert_bytes(self, table: str, data: bytes, fmt: str) -> None:
        target = f"{_quote(self.database)}.{_quote(_identifier(table))}"
        fmt = _identifier(fmt)
        # chDB reads local files directly (the engine is this process): a temporary file,
        # since the statement's text cannot carry binary rows.
        with tempfile.NamedTemporaryFile(suffix=f".{fmt.lower()}") as staged:
            staged.write(data)
            staged.flush()
            source = f"file({_literal(staged.name)}, {fmt})"  # checked identifier, quoted path
            statement = f"INSERT INTO {target} SELECT * FROM {source}"  # noqa: S608
            await self._execute("insert", statement, lambda: self._run(statement, None))

    async def ping(self) -> bool:
        try:
            await self._execute("ping", "SELECT 1", lambda: self._run("SELECT 1", None))
        except AnalyticsError:
            return False
        return True

    async def close(self) -> None:
        def call() -> None:
            if self._session is not None:
                self._session.close()
                self._session = None

        await self._close_with(call)


# -- ClickHouse server -----------------------------------------------------------------------


class ClickHouseServerAnalytics(_Store):
    """A ClickHouse server (or cluster) reached with clickhouse-connect's client.

    The sync client runs on worker threads: its HTTP pool is thread-safe, and it is the client
    that clickhouse-connect can also back with chDB, so this class runs in tests on the real
    engine too (a `chdb:///path` URL).
    """

    def __init__(self, database: str) -> None:
        from clickhouse_connect.driver.exceptions import ClickHouseError

        super().__init__(database, threads=SERVER_THREADS)
        self._engine_errors = (ClickHouseError, OSError)
        self._client: Any = None  # clickhouse_connect.driver.Client

    @classmethod
    async def open(cls, url: str, database: str = "apex") -> ClickHouseServerAnalytics:
        store = cls(database)
        try:
            # The URL is left out of the statement: it may hold a password.
            await store._execute("open", "connect to ClickHouse", lambda: store._connect(url))
            await store.command(f"CREATE DATABASE IF NOT EXISTS {_quote(store.database)}")
        except BaseException:
            await store.close()
            raise
        store._client.database = store.database
        return store

    def _connect(self, url: str) -> None:
        import clickhouse_connect

        self._client = clickhouse_connect.get_client(dsn=url, settings=SESSION_SETTINGS)

    async def query(self, sql: str, params: Params | None = None) -> list[dict[str, Any]]:
        bound = _server_params(params)

        def call() -> list[dict[str, Any]]:
            return _json_rows(self._client.raw_query(sql, parameters=bound, fmt="JSONEachRow"))

        return await self._execute("query", sql, call)

    async def query_bytes(self, sql: str, params: Params | None, fmt: str) -> bytes:
        bound = _server_params(params)
        fmt = _identifier(fmt)

        def call() -> bytes:
            return bytes(self._client.raw_query(sql, parameters=bound, fmt=fmt))

        return await self._execute("query", sql, call)

    async def command(self, sql: str, params: Params | None = None) -> None:
        bound = _server_params(params)
        await self._execute("command", sql, lambda: self._client.command(sql, parameters=bound))

    async def insert_bytes(self, table: str, data: bytes, fmt: str) -> None:
        name, fmt = _identifier(table), _identifier(fmt)

        def call() -> None:
            self._client.raw_insert(name, insert_block=data, fmt=fmt)

        await self._execute("insert", f"INSERT INTO {_quote(name)} FORMAT {fmt}", call)

    async def insert(
        self, table: str, rows: Sequence[Mapping[str, Any]], dedup_token: str | None = None
    ) -> None:
        columns = _columns(rows)
        if not columns:
            return
        name = _identifier(table)
        data = [[_insert_value(row[column]) for column in columns] for row in rows]
        settings = _insert_settings(dedup_token)
        await self._execute(
            "insert",
            f"INSERT INTO {_quote(self.database)}.{_quote(name)}",
            lambda: self._client.insert(
                name, data, column_names=columns, database=self.database, settings=settings
            ),
        )

    async def ping(self) -> bool:
        try:
            return bool(await self._execute("ping", "ping", lambda: self._client.ping()))
        except AnalyticsError:
            return False

    async def close(self) -> None:
        def call() -> None:
            if self._client is not None:
                self._client.close()

        await self._close_with(call)


async def open_analytics(
    clickhouse_url: str | None, data_dir: Path, database: str = "apex"
) -> Analytics:
    """A ClickHouse server when `clickhouse_url` is set, else chDB with its data in `data_dir`."""
    if clickhouse_url:
        return await ClickHouseServerAnalytics.open(clickhouse_url, database)
    return await ChdbAnalytics.open(data_dir, database)


# -- values ----------------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BOUND_PARAMETER = re.compile(r"\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*([^{}]+?)\s*\}")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})


def _identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain identifier: {name!r}")
    return name


def _quote(name: str) -> str:
    return f"`{name}`"  # callers pass names checked by _identifier


def _literal(value: str | int) -> str:
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _insert_settings(dedup_token: str | None) -> dict[str, str | int]:
    if dedup_token is None:
        return {}
    return {
        "insert_deduplication_token": dedup_token,
        "deduplicate_blocks_in_dependent_materialized_views": 1,
    }


def _first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0][:300] if stripped else "(empty)"


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    if not rows:
        return []
    columns = list(rows[0])
    for row in rows:
        if list(row) != columns:
            raise ValueError(f"every row needs the same keys in the same order: {columns}")
    return columns


def _utc_naive(value: datetime) -> datetime:
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


def _server_params(params: Params | None) -> dict[str, object] | None:
    # clickhouse-connect formats the values; bools as 1/0 and datetimes as naive UTC first, so
    # that both engines receive the same text.
    if not params:
        return None

    def normal(value: object) -> object:
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, datetime):
            return _utc_naive(value)
        if isinstance(value, list | tuple):
            return [normal(item) for item in value]
        return value

    return {name: normal(value) for name, value in params.items()}


def _chdb_params(sql: str, params: Params | None) -> dict[str, str] | None:
    if not params:
        return None
    types = {name: type_name for name, type_name in _BOUND_PARAMETER.findall(sql)}
    return {name: _param_text(value, types.get(name, "")) for name, value in params.items()}


def _param_text(value: object, type_name: str, top: bool = True) -> str:
    """A value as ClickHouse reads a query parameter: escaped text, quoted inside containers."""
    if value is None:
        return "\\N" if top else "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_param_text(item, type_name, top=False) for item in value) + "]"
    if isinstance(value, datetime):
        # A DateTime parameter refuses fractional seconds; DateTime64 keeps them.
        text = _utc_naive(value).isoformat(
            " ", "microseconds" if "DateTime64" in type_name else "seconds"
        )
    elif isinstance(value, str | date | UUID):
        text = str(value)
    else:
        raise TypeError(f"cannot bind {type(value).__name__} as a ClickHouse parameter")
    if top:
        return text.translate(_ESCAPES)
    return "'" + text.translate(_ESCAPES).replace("'", "\\'") + "'"


def _insert_value(value: Any) -> Any:
    # clickhouse-connect reads a naive datetime in the process time zone; ours are UTC.
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return _utc_naive(value).isoformat(" ")
    if isinstance(value, date | UUID | Decimal):
        return str(value)
    raise TypeError(f"cannot insert {type(value).__name__} as JSON")


def _json_rows(payload: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in payload.splitlines() if line]

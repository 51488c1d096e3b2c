"""Missing indexes, from the database's own evidence: statements that pg_stat_statements
measures as slow, planned generically (EXPLAIN GENERIC_PLAN, PostgreSQL 16 and later) to find a
sequential scan of a large table filtered by equality on a column that no index leads with.
Each becomes a proposal whose DDL is built here from checked identifiers — never from text a
model or a user wrote."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

MIN_ROWS = 10_000
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,50}$")
_EQUALITY = re.compile(r'"?([a-z_][a-z0-9_]*)"?\s*=\s*\$\d+')

_SLOW = (
    "SELECT queryid, query, calls, mean_exec_time, total_exec_time FROM pg_stat_statements "
    "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND toplevel AND calls >= :min_calls AND mean_exec_time >= :min_mean_ms "
    "AND query ILIKE 'select%' "
    "ORDER BY total_exec_time DESC LIMIT :limit"
)
_TABLE_ROWS = (
    "SELECT c.reltuples::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = 'public' AND c.relname = :table AND c.relkind = 'r'"
)
_COLUMN = (
    "SELECT count(*) FROM information_schema.columns "
    "WHERE table_schema = 'public' AND table_name = :table AND column_name = :column"
)
_LEADING_INDEX = (
    "SELECT count(*) FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid "
    "JOIN pg_namespace n ON n.oid = t.relnamespace "
    "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0] "
    "WHERE n.nspname = 'public' AND t.relname = :table AND a.attname = :column"
)


@dataclass(frozen=True)
class SlowStatement:
    queryid: int
    query: str
    calls: int
    mean_us: int  # mean execution time, microseconds


@dataclass(frozen=True)
class IndexProposal:
    table: str
    column: str
    statement: SlowStatement
    table_rows: int
    plan_filter: str

    @property
    def name(self) -> str:
        return f"ix_auto_{self.table}_{self.column}"[:63]

    @property
    def target(self) -> str:
        return f"public.{self.table}({self.column})"

    @property
    def apply_sql(self) -> str:
        return (
            f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{self.name}" '
            f'ON public."{self.table}" ("{self.column}")'
        )

    @property
    def rollback_sql(self) -> str:
        return f'DROP INDEX CONCURRENTLY IF EXISTS public."{self.name}"'


async def slow_statements(
    conn: AsyncConnection, *, min_mean_ms: int = 20, min_calls: int = 5, limit: int = 20
) -> list[SlowStatement]:
    rows = await conn.execute(
        text(_SLOW), {"min_calls": min_calls, "min_mean_ms": min_mean_ms, "limit": limit}
    )
    return [
        SlowStatement(int(qid), str(query), int(calls), int(mean_ms * 1000))
        for qid, query, calls, mean_ms, _total in rows.all()
    ]


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _plan(url: str, query: str) -> dict[str, Any] | None:
    """The statement's generic plan. Through psycopg: asyncpg refuses to send a statement
    whose `$1` has no argument, which is exactly what a generic plan needs."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            conn.execute("SET statement_timeout = '5s'")
            row = conn.execute(
                sql.SQL("EXPLAIN (GENERIC_PLAN, FORMAT JSON) ") + sql.SQL(query)
            ).fetchone()
    except psycopg.Error:
        return None  # not plannable generically (older server, DDL, a temp table…)
    if row is None:
        return None
    loaded = json.loads(row[0]) if isinstance(row[0], str) else row[0]
    plan: dict[str, Any] = loaded[0]["Plan"]
    return plan


async def _worth_indexing(conn: AsyncConnection, table: str, column: str) -> int | None:
    """The table's row estimate when an index on `column` is missing and would matter."""
    if not (IDENTIFIER.match(table) and IDENTIFIER.match(column)):
        return None
    rows = await conn.scalar(text(_TABLE_ROWS), {"table": table})
    if rows is None or rows < MIN_ROWS:
        return None
    if not await conn.scalar(text(_COLUMN), {"table": table, "column": column}):
        return None
    if await conn.scalar(text(_LEADING_INDEX), {"table": table, "column": column}):
        return None
    return int(rows)


async def propose(
    conn: AsyncConnection, plain_url: str, statements: list[SlowStatement]
) -> list[IndexProposal]:
    found: dict[tuple[str, str], IndexProposal] = {}
    for statement in statements:
        plan = await asyncio.to_thread(_plan, plain_url, statement.query)
        if plan is None:
            continue
        for node in _nodes(plan):
            if not str(node.get("Node Type", "")).endswith("Seq Scan") or "Filter" not in node:
                continue
            table = str(node.get("Relation Name", ""))
            for column in _EQUALITY.findall(str(node["Filter"])):
                rows = await _worth_indexing(conn, table, column)
                if rows is not None and (table, column) not in found:
                    found[(table, column)] = IndexProposal(
                        table, column, statement, rows, str(node["Filter"])
                    )
    return list(found.values())


async def statement_stats(conn: AsyncConnection, queryid: int) -> tuple[int, int] | None:
    """(calls, mean microseconds) of one statement since its statistics were last reset."""
    row = (
        await conn.execute(
            text(
                # toplevel: the statement as the application ran it, not as nested under an
                # EXPLAIN (the same queryid, with track = all).
                "SELECT calls, mean_exec_time FROM pg_stat_statements WHERE queryid = :queryid "
                "AND toplevel "
                "AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"queryid": queryid},
        )
    ).first()
    return None if row is None else (int(row[0]), int(row[1] * 1000))


async def reset_statement(conn: AsyncConnection, queryid: int) -> None:
    await conn.execute(
        text(
            "SELECT pg_stat_statements_reset(0, "
            "(SELECT oid FROM pg_database WHERE datname = current_database()), :queryid)"
        ),
        {"queryid": queryid},
    )

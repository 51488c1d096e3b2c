"""The self-evolving system on a real PostgreSQL with pg_stat_statements (the embedded server,
which preloads it): an injected slow query produces an index proposal with its evidence; once
approved it is applied, measured and verified. An index that does not help (a column with two
values, where the planner keeps scanning) is measured and rolled back."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from apex_mediation.accounts.errors import Conflict
from apex_mediation.accounts.identity import Actor
from apex_mediation.db import migrate
from apex_mediation.db.models import AuditLog, OptimizationRecord
from apex_mediation.evolve import cycle, records
from apex_mediation.stores.embedded_postgres import EmbeddedPostgres
from apex_mediation.stores.postgres import Postgres, open_postgres

pytestmark = pytest.mark.embedded
NOW = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)
OPERATOR = Actor(kind="user", id="operator-3", publisher_id=None, is_platform_operator=True)
SELECTIVE = "SELECT sum(amount) FROM demo_orders WHERE customer_ref = :ref"
UNSELECTIVE = "SELECT count(*) FROM demo_flags WHERE flag = :flag"


@pytest.fixture
async def postgres(tmp_path: Path) -> AsyncIterator[Postgres]:
    data = tmp_path / "pg"
    handle = await open_postgres(None, data, pool_size=2)
    try:
        await asyncio.to_thread(migrate.upgrade, handle.url)
        async with handle.engine.begin() as conn:
            await conn.execute(text(
                "CREATE TABLE demo_orders (id bigserial PRIMARY KEY, customer_ref int NOT NULL,"
                " amount int NOT NULL)"))  # fmt: skip
            await conn.execute(text(
                "INSERT INTO demo_orders (customer_ref, amount) "
                "SELECT g % 5000, g % 100 FROM generate_series(1, 300000) g"))  # fmt: skip
            await conn.execute(text("CREATE TABLE demo_flags (id bigserial PRIMARY KEY, flag int)"))
            await conn.execute(
                text("INSERT INTO demo_flags (flag) SELECT g % 2 FROM generate_series(1, 300000) g")
            )
            await conn.execute(text("ANALYZE demo_orders"))
            await conn.execute(text("ANALYZE demo_flags"))
        yield handle
    finally:
        await handle.close()
        EmbeddedPostgres(data).stop()


async def _traffic(postgres: Postgres, calls: int = 8) -> None:
    async with postgres.engine.connect() as conn:
        for n in range(calls):
            await conn.execute(text(SELECTIVE), {"ref": n * 7})
            await conn.execute(text(UNSELECTIVE), {"flag": n % 2})


async def _records(postgres: Postgres) -> dict[str, OptimizationRecord]:
    async with postgres.session() as session:
        found = await session.scalars(select(OptimizationRecord))
        return {r.target: r for r in found}


async def _indexes(postgres: Postgres) -> set[str]:
    async with postgres.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT indexname FROM pg_indexes WHERE tablename IN ('demo_orders', 'demo_flags')"
            )
        )
        return {name for (name,) in rows.all()}  # fmt: skip


async def test_a_slow_query_becomes_an_approved_applied_verified_index(
    postgres: Postgres,
) -> None:
    await _traffic(postgres)
    first = await cycle.run(postgres, NOW, min_mean_ms=1)
    assert first["query_stats"] == 1 and first["proposed"] == 2, first
    found = await _records(postgres)
    orders = found["public.demo_orders(customer_ref)"]
    flags = found["public.demo_flags(flag)"]
    assert orders.status == "proposed" and orders.action == "create_index"
    assert orders.apply_sql == (
        'CREATE INDEX CONCURRENTLY IF NOT EXISTS "ix_auto_demo_orders_customer_ref" '
        'ON public."demo_orders" ("customer_ref")'
    )
    assert "customer_ref = $1" in orders.evidence["query"]
    assert orders.evidence["calls"] >= 8 and orders.evidence["table_rows"] >= 290_000
    assert "Seq Scan on demo_orders" in orders.evidence["plan"]
    # Proposing again finds the same targets: nothing new, nothing applied unapproved.
    again = await cycle.run(postgres, NOW, min_mean_ms=1)
    assert again["proposed"] == 0 and again["applied"] == 0
    assert await _indexes(postgres) == {"demo_orders_pkey", "demo_flags_pkey"}

    async with postgres.session() as session:
        for record in (orders, flags):
            await records.decide(session, OPERATOR, record.id, True, NOW)
        await session.commit()
        with pytest.raises(Conflict):
            await records.decide(session, OPERATOR, orders.id, True, NOW)
        audited = await session.scalar(
            select(AuditLog).where(AuditLog.action == "optimization.approved",
                                   AuditLog.object_id == str(orders.id)))  # fmt: skip
    assert audited is not None and audited.actor_id == "operator-3"

    applied = await cycle.run(postgres, NOW, min_mean_ms=1)
    assert applied["applied"] == 2 and applied["verified"] == 0  # not enough calls yet
    assert "ix_auto_demo_orders_customer_ref" in await _indexes(postgres)

    await _traffic(postgres)
    judged = await cycle.run(postgres, NOW, min_mean_ms=1)
    assert (judged["verified"], judged["rolled_back"]) == (1, 1), judged
    found = await _records(postgres)
    kept, undone = found["public.demo_orders(customer_ref)"], found["public.demo_flags(flag)"]
    assert kept.status == "verified" and kept.outcome and kept.outcome.startswith("kept")
    assert kept.after and kept.before and kept.after["mean_us"] * 2 <= kept.before["mean_us"]
    assert undone.status == "rolled_back"
    assert await _indexes(postgres) == {
        "demo_orders_pkey", "demo_flags_pkey", "ix_auto_demo_orders_customer_ref"
    }  # fmt: skip

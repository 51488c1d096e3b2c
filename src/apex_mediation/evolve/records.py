"""The life of a proposal: proposed → approved (by an operator) or rejected → applied →
verified, or rolled back when the measurement after is not clearly better than before.

Only allow-listed actions exist (`create_index`, whose SQL is built from checked identifiers in
indexes.py); nothing is applied without an operator's approval. The measurement is the
statement's own: its mean time before, then — statistics reset at apply — its mean over at least
`VERIFY_MIN_CALLS` calls after. Verified when at least twice as fast, else rolled back."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import audit
from apex_mediation.accounts.errors import Conflict, NotFound
from apex_mediation.accounts.identity import Actor
from apex_mediation.db.models import OptimizationRecord
from apex_mediation.evolve import indexes
from apex_mediation.stores.postgres import Postgres

VERIFY_MIN_CALLS = 5


def _ms(us: int) -> str:
    """Microseconds as milliseconds to one decimal, half up, without floats."""
    tenths = (us + 50) // 100
    return f"{tenths // 10}.{tenths % 10} ms"


REQUIRED_SPEEDUP = 2


async def record_proposals(
    session: AsyncSession, proposals: list[indexes.IndexProposal], now: dt.datetime
) -> int:
    """Store new proposals (one record per target, ever: a rejected index is not proposed
    again); returns how many are new."""
    created = 0
    for p in proposals:
        inserted = await session.scalar(
            insert(OptimizationRecord)
            .values(
                action="create_index",
                target=p.target,
                apply_sql=p.apply_sql,
                rollback_sql=p.rollback_sql,
                evidence={
                    "queryid": p.statement.queryid,
                    "query": p.statement.query[:2000],
                    "calls": p.statement.calls,
                    "mean_us": p.statement.mean_us,
                    "table_rows": p.table_rows,
                    "plan": f"Seq Scan on {p.table}, Filter: {p.plan_filter}",
                },
                expected_effect=(
                    f"an index on {p.table}.{p.column} turns the sequential scan of about "
                    f"{p.table_rows:,} rows into an index lookup for this statement "
                    f"(now {_ms(p.statement.mean_us)} on average over "
                    f"{p.statement.calls:,} calls)"
                ),
                status="proposed",
                proposed_at=now,
            )
            .on_conflict_do_nothing(index_elements=[OptimizationRecord.target])
            .returning(OptimizationRecord.id)
        )
        created += inserted is not None
    return created


async def decide(
    session: AsyncSession, actor: Actor, record_id: uuid.UUID, approve: bool, now: dt.datetime
) -> OptimizationRecord:
    record = await session.get(OptimizationRecord, record_id, with_for_update=True)
    if record is None:
        raise NotFound("optimisation record not found")
    if record.status != "proposed":
        raise Conflict(f"the record is {record.status}; only a proposed one can be decided")
    record.status = "approved" if approve else "rejected"
    record.decided_at, record.decided_by = now, actor.id or actor.kind
    await audit.record(
        session,
        actor,
        "optimization.approved" if approve else "optimization.rejected",
        "optimization_record",
        record.id,
        details={"target": record.target, "action": record.action},
    )
    return record


async def apply_approved(postgres: Postgres, now: dt.datetime) -> int:
    """Apply every approved record (CREATE INDEX CONCURRENTLY runs outside a transaction)."""
    async with postgres.session() as session:
        approved = list(
            await session.scalars(
                select(OptimizationRecord).where(OptimizationRecord.status == "approved")
            )
        )
    applied = 0
    for record in approved:
        queryid = int(record.evidence["queryid"])
        async with postgres.engine.connect() as raw:
            conn = await raw.execution_options(isolation_level="AUTOCOMMIT")
            before = await indexes.statement_stats(conn, queryid)
            try:
                await conn.exec_driver_sql(record.apply_sql)
            except Exception as exc:
                outcome, status = f"applying failed: {str(exc).splitlines()[0][:300]}", "failed"
            else:
                await indexes.reset_statement(conn, queryid)
                outcome, status = "applied; measuring", "applied"
                applied += 1
        async with postgres.session() as session:
            fresh = await session.get(OptimizationRecord, record.id, with_for_update=True)
            assert fresh is not None
            fresh.status, fresh.outcome, fresh.applied_at = status, outcome, now
            if before is not None:
                fresh.before = {"calls": before[0], "mean_us": before[1]}
            if status == "failed":
                fresh.finished_at = now
            await session.commit()
    return applied


async def verify_applied(postgres: Postgres, now: dt.datetime) -> tuple[int, int]:
    """Judge every applied record with enough calls since: (verified, rolled back)."""
    async with postgres.session() as session:
        applied = list(
            await session.scalars(
                select(OptimizationRecord).where(OptimizationRecord.status == "applied")
            )
        )
    verified = rolled_back = 0
    for record in applied:
        async with postgres.engine.connect() as raw:
            conn = await raw.execution_options(isolation_level="AUTOCOMMIT")
            after = await indexes.statement_stats(conn, int(record.evidence["queryid"]))
            if after is None or after[0] < VERIFY_MIN_CALLS:
                continue  # not enough calls yet to judge
            before_us = int((record.before or {}).get("mean_us", record.evidence["mean_us"]))
            better = after[1] * REQUIRED_SPEEDUP <= before_us
            if not better:
                await conn.exec_driver_sql(record.rollback_sql)
        async with postgres.session() as session:
            fresh = await session.get(OptimizationRecord, record.id, with_for_update=True)
            assert fresh is not None
            fresh.after = {"calls": after[0], "mean_us": after[1]}
            fresh.finished_at = now
            change = f"mean {_ms(before_us)} before, {_ms(after[1])} after"
            if better:
                fresh.status, fresh.outcome = "verified", f"kept: {change}"
                verified += 1
            else:
                fresh.status, fresh.outcome = "rolled_back", f"rolled back: {change}"
                rolled_back += 1
            await session.commit()
    return verified, rolled_back

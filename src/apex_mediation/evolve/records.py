"""The life of a proposal: proposed → approved (by an operator) or rejected → applied →
verified, or rolled back when the measurement after is not clearly better than before.

Only allow-listed actions exist: `create_index`, whose SQL is built from checked identifiers in
indexes.py, and `tune_setting`, a value within an allow-listed knob's bounds (tuning/knobs.py).
Nothing is applied without an operator's approval — except tuning, when the operator has given
the system that permission (then the approval is the system's, audit-logged as such).

An index is measured by its statement: the mean time before, then — statistics reset at apply —
the mean over at least `VERIFY_MIN_CALLS` calls after; kept when at least twice as fast. A
tuning change is measured by the figure its rule means to move (evolve/tuning.py), in the
first snapshot after it with enough traffic; kept when that fell by a quarter. Anything else is
rolled back."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import audit
from apex_mediation.accounts.errors import Conflict, NotFound
from apex_mediation.accounts.identity import Actor
from apex_mediation.db.models import OptimizationRecord, SystemSnapshot
from apex_mediation.evolve import indexes, tuning
from apex_mediation.stores.postgres import Postgres
from apex_mediation.tuning import settings as runtime_settings

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


OPEN_STATUSES = ("proposed", "approved", "applied")
SELF_EVOLVING = Actor.system()


async def record_tuning(
    session: AsyncSession, proposals: list[tuning.TuningProposal], now: dt.datetime
) -> int:
    """Store new tuning proposals; a knob with a change still open (proposed, approved or being
    measured) gets no other, and a target (knob=value) is proposed once, ever."""
    open_keys = set(
        await session.scalars(
            select(OptimizationRecord.change["key"].astext).where(
                OptimizationRecord.action == "tune_setting",
                OptimizationRecord.status.in_(OPEN_STATUSES),
            )
        )
    )
    created = 0
    for p in proposals:
        if p.key in open_keys:
            continue
        inserted = await session.scalar(
            insert(OptimizationRecord)
            .values(
                action="tune_setting",
                target=p.target,
                change={"key": p.key, "from": p.current, "to": p.proposed},
                evidence=p.evidence(),
                expected_effect=p.expected_effect,
                status="proposed",
                proposed_at=now,
            )
            .on_conflict_do_nothing(index_elements=[OptimizationRecord.target])
            .returning(OptimizationRecord.id)
        )
        created += inserted is not None
    return created


async def approve_tuning_automatically(session: AsyncSession, now: dt.datetime) -> int:
    """With the operator's permission, approve every proposed tuning change as the system."""
    if not await runtime_settings.auto_tune_allowed(session):
        return 0
    proposed = await session.scalars(
        select(OptimizationRecord.id).where(
            OptimizationRecord.action == "tune_setting", OptimizationRecord.status == "proposed"
        )
    )
    approved = 0
    for record_id in list(proposed):
        await decide(session, SELF_EVOLVING, record_id, True, now)
        approved += 1
    return approved


async def apply_approved(postgres: Postgres, now: dt.datetime) -> int:
    """Apply every approved record: (CREATE INDEX CONCURRENTLY runs outside a transaction)."""
    async with postgres.session() as session:
        approved = list(
            await session.scalars(
                select(OptimizationRecord).where(OptimizationRecord.status == "approved")
            )
        )
    applied = 0
    for record in approved:
        if record.action == "tune_setting":
            applied += await _apply_tuning(postgres, record.id, now)
        else:
            applied += await _apply_index(postgres, record, now)
    return applied


async def _apply_tuning(postgres: Postgres, record_id: uuid.UUID, now: dt.datetime) -> bool:
    async with postgres.session() as session:
        record = await session.get(OptimizationRecord, record_id, with_for_update=True)
        assert record is not None and record.change is not None
        key, was, to = record.change["key"], int(record.change["from"]), int(record.change["to"])
        current = (await runtime_settings.values(session))[key]
        record.applied_at = now
        if current != was:  # someone changed it since: the evidence no longer describes it
            record.status, record.finished_at = "failed", now
            record.outcome = f"not applied: {key} is {current} now, not {was} as proposed"
        else:
            await runtime_settings.set_value(
                session, SELF_EVOLVING, key, to, reason=f"optimisation {record.id}"
            )
            record.status, record.outcome = "applied", "applied; measuring"
            record.before = {
                "ppm": record.evidence["measured_ppm"],
                "sample": record.evidence["sample"],
            }
        await session.commit()
        return record.status == "applied"


async def _apply_index(postgres: Postgres, record: OptimizationRecord, now: dt.datetime) -> bool:
    assert record.apply_sql is not None
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
    async with postgres.session() as session:
        fresh = await session.get(OptimizationRecord, record.id, with_for_update=True)
        assert fresh is not None
        fresh.status, fresh.outcome, fresh.applied_at = status, outcome, now
        if before is not None:
            fresh.before = {"calls": before[0], "mean_us": before[1]}
        if status == "failed":
            fresh.finished_at = now
        await session.commit()
    return status == "applied"


async def verify_applied(postgres: Postgres, now: dt.datetime) -> tuple[int, int]:
    """Judge every applied record with enough evidence since: (verified, rolled back)."""
    async with postgres.session() as session:
        applied = list(
            await session.scalars(
                select(OptimizationRecord).where(OptimizationRecord.status == "applied")
            )
        )
    verified = rolled_back = 0
    for record in applied:
        if record.action == "tune_setting":
            judged = await _verify_tuning(postgres, record.id, now)
        else:
            judged = await _verify_index(postgres, record, now)
        verified += judged is True
        rolled_back += judged is False
    return verified, rolled_back


async def _verify_tuning(postgres: Postgres, record_id: uuid.UUID, now: dt.datetime) -> bool | None:
    async with postgres.session() as session:
        record = await session.get(OptimizationRecord, record_id, with_for_update=True)
        assert record is not None and record.change is not None and record.applied_at
        metric, networks = record.evidence["metric"], list(record.evidence["networks"])
        measured = None
        for snapshot in await session.scalars(
            select(SystemSnapshot)
            .where(SystemSnapshot.taken_at > record.applied_at)
            .order_by(SystemSnapshot.taken_at)
        ):
            measured = tuning.measure(metric, snapshot, networks)
            if measured is not None:
                break
        if measured is None:
            return None  # not enough traffic since to judge
        before_ppm = int((record.before or {})["ppm"])
        kept = tuning.better(before_ppm, measured[0])
        key, was, to = record.change["key"], int(record.change["from"]), int(record.change["to"])
        change = f"{metric} {before_ppm:,} before, {measured[0]:,} after (ppm)"
        if not kept and (await runtime_settings.values(session))[key] == to:
            await runtime_settings.set_value(
                session, SELF_EVOLVING, key, was, reason=f"rollback of optimisation {record.id}"
            )
        record.after = {"ppm": measured[0], "sample": measured[1]}
        record.finished_at = now
        record.status = "verified" if kept else "rolled_back"
        record.outcome = f"kept: {change}" if kept else f"rolled back: {change}"
        await session.commit()
        return kept


async def _verify_index(
    postgres: Postgres, record: OptimizationRecord, now: dt.datetime
) -> bool | None:
    async with postgres.engine.connect() as raw:
        conn = await raw.execution_options(isolation_level="AUTOCOMMIT")
        after = await indexes.statement_stats(conn, int(record.evidence["queryid"]))
        if after is None or after[0] < VERIFY_MIN_CALLS:
            return None  # not enough calls yet to judge
        before_us = int((record.before or {}).get("mean_us", record.evidence["mean_us"]))
        better = after[1] * REQUIRED_SPEEDUP <= before_us
        if not better:
            assert record.rollback_sql is not None
            await conn.exec_driver_sql(record.rollback_sql)
    async with postgres.session() as session:
        fresh = await session.get(OptimizationRecord, record.id, with_for_update=True)
        assert fresh is not None
        fresh.after = {"calls": after[0], "mean_us": after[1]}
        fresh.finished_at = now
        change = f"mean {_ms(before_us)} before, {_ms(after[1])} after"
        if better:
            fresh.status, fresh.outcome = "verified", f"kept: {change}"
        else:
            fresh.status, fresh.outcome = "rolled_back", f"rolled back: {change}"
        await session.commit()
    return better

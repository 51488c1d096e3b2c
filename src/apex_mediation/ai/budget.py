"""The monthly budget, enforced by reservation.

Before a call, its worst-case cost is reserved with one conditional UPDATE of the month's row:
`spent + reserved + cost <= hard limit`. PostgreSQL serialises concurrent updates of a row, so
however many calls race at the edge, the ones that fit are granted and the rest refused — spend
can never pass the limit. After the call, the reservation is released and the real cost added.

Thresholds (soft 50 %, warning 80 %, hard 100 % by default) alert once per month each: the
UPDATE that stamps the alert time only succeeds for the first process to cross it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import audit
from apex_mediation.accounts.errors import InvalidInput
from apex_mediation.accounts.identity import Actor
from apex_mediation.ai import metrics
from apex_mediation.db.models import AiBudgetMonth, AiSpendEntry
from apex_mediation.settings import Settings

MICROS = 1_000_000


@dataclass(frozen=True)
class Standing:
    month: dt.date
    budget_micros: int
    spent_micros: int
    reserved_micros: int
    soft_micros: int
    warning_micros: int
    hard_micros: int

    @property
    def spent_ppm(self) -> int:
        return self.spent_micros * MICROS // self.budget_micros if self.budget_micros else MICROS


def month_of(now: dt.datetime) -> dt.date:
    return now.date().replace(day=1)


def _limit(budget_micros: int, percent: int) -> int:
    return budget_micros * percent // 100


async def _ensure_month(session: AsyncSession, settings: Settings, month: dt.date) -> None:
    """The month's row, created with the budget in force: an operator's, carried from the
    month before, else the configured one (APEX_AI_MONTHLY_BUDGET_DOLLARS)."""
    previous = (
        await session.execute(
            select(AiBudgetMonth.budget_micros, AiBudgetMonth.budget_set_by_operator)
            .where(AiBudgetMonth.month < month)
            .order_by(AiBudgetMonth.month.desc())
            .limit(1)
        )
    ).first()
    by_operator = previous is not None and previous[1]
    budget = (
        previous[0]
        if previous is not None and by_operator
        else (settings.ai_monthly_budget_dollars * MICROS)
    )
    await session.execute(
        insert(AiBudgetMonth)
        .values(month=month, budget_micros=budget, budget_set_by_operator=by_operator)
        .on_conflict_do_nothing(index_elements=[AiBudgetMonth.month])
    )


async def standing(session: AsyncSession, settings: Settings, now: dt.datetime) -> Standing:
    month = month_of(now)
    await _ensure_month(session, settings, month)
    row = await session.get(AiBudgetMonth, month, populate_existing=True)
    assert row is not None
    return _standing(settings, row.month, row.budget_micros, row.spent_micros, row.reserved_micros)


def _standing(
    settings: Settings, month: dt.date, budget: int, spent: int, reserved: int
) -> Standing:
    return Standing(
        month,
        budget,
        spent,
        reserved,
        _limit(budget, settings.ai_soft_limit_percent),
        _limit(budget, settings.ai_warning_percent),
        _limit(budget, settings.ai_hard_limit_percent),
    )


async def reserve(
    session: AsyncSession, settings: Settings, month: dt.date, amount_micros: int
) -> Standing | None:
    """Reserve `amount_micros` against the hard limit; None when it does not fit. Commits at
    once (the caller's call must not hold the row's lock while it waits on the API)."""
    await _ensure_month(session, settings, month)
    row = (
        await session.execute(
            update(AiBudgetMonth)
            .where(
                AiBudgetMonth.month == month,
                AiBudgetMonth.spent_micros + AiBudgetMonth.reserved_micros + amount_micros
                <= AiBudgetMonth.budget_micros * settings.ai_hard_limit_percent / 100,
            )
            .values(
                reserved_micros=AiBudgetMonth.reserved_micros + amount_micros,
                updated_at=func.now(),
            )
            .returning(
                AiBudgetMonth.budget_micros,
                AiBudgetMonth.spent_micros,
                AiBudgetMonth.reserved_micros,
            )
        )
    ).first()
    await session.commit()
    if row is None:
        return None
    return _standing(settings, month, *row)


async def settle(
    session: AsyncSession,
    settings: Settings,
    month: dt.date,
    reserved_micros: int,
    cost_micros: int,
) -> Standing:
    """Release a reservation and add the real cost."""
    budget, spent, reserved = (
        await session.execute(
            update(AiBudgetMonth)
            .where(AiBudgetMonth.month == month)
            .values(
                reserved_micros=func.greatest(AiBudgetMonth.reserved_micros - reserved_micros, 0),
                spent_micros=AiBudgetMonth.spent_micros + cost_micros,
                updated_at=func.now(),
            )
            .returning(
                AiBudgetMonth.budget_micros,
                AiBudgetMonth.spent_micros,
                AiBudgetMonth.reserved_micros,
            )
        )
    ).one()
    return _standing(settings, month, budget, spent, reserved)


Threshold = str  # "soft" | "warning" | "hard"
_STAMPS = {"soft": "soft_alert_at", "warning": "warning_alert_at", "hard": "hard_alert_at"}


async def claim_alert(session: AsyncSession, month: dt.date, threshold: Threshold) -> bool:
    """True for exactly one caller per month and threshold (the one that stamps it)."""
    column = getattr(AiBudgetMonth, _STAMPS[threshold])
    stamped = await session.execute(
        update(AiBudgetMonth)
        .where(AiBudgetMonth.month == month, column.is_(None))
        .values({column: func.now()})
        .returning(AiBudgetMonth.month)
    )
    return stamped.first() is not None


def crossed(before: int, after: int, standing: Standing) -> list[Threshold]:
    """The thresholds that spend crossed going from `before` to `after`."""
    return [
        name
        for name, limit in (
            ("soft", standing.soft_micros),
            ("warning", standing.warning_micros),
            ("hard", standing.hard_micros),
        )
        if before < limit <= after
    ]


async def spent_by_feature(session: AsyncSession, month: dt.date) -> dict[str, int]:
    rows = await session.execute(
        select(AiSpendEntry.feature, func.coalesce(func.sum(AiSpendEntry.cost_micros), 0))
        .where(AiSpendEntry.month == month)
        .group_by(AiSpendEntry.feature)
    )
    return {feature: int(total or 0) for feature, total in rows.all()}


async def refresh_metrics(session: AsyncSession, settings: Settings, now: dt.datetime) -> Standing:
    current = await standing(session, settings, now)
    metrics.publish(current.budget_micros, await spent_by_feature(session, current.month))
    return current


async def set_budget(
    session: AsyncSession, settings: Settings, actor: Actor, dollars: int, now: dt.datetime
) -> Standing:
    """Change this month's budget (and the following months'), audit-logged."""
    if not 0 <= dollars <= 1_000_000:
        raise InvalidInput("the budget must be between $0 and $1,000,000", field="budget")
    before = await standing(session, settings, now)
    await session.execute(
        update(AiBudgetMonth)
        .where(AiBudgetMonth.month == before.month)
        .values(budget_micros=dollars * MICROS, budget_set_by_operator=True, updated_at=func.now())
    )
    await audit.record(
        session,
        actor,
        "ai.budget_changed",
        "ai_budget",
        before.month.isoformat(),
        before={"budget_micros": before.budget_micros},
        after={"budget_micros": dollars * MICROS},
    )
    return await standing(session, settings, now)


async def ledger(session: AsyncSession, month: dt.date, limit: int = 100) -> list[AiSpendEntry]:
    """The month's latest ledger rows."""
    return list(
        await session.scalars(
            select(AiSpendEntry)
            .where(AiSpendEntry.month == month)
            .order_by(AiSpendEntry.created_at.desc())
            .limit(limit)
        )
    )

"""The operator's growth pages: every publisher's lifecycle stage and latest health score,
filterable by stage and churn risk, under the latest AI narrative and the open opportunities;
and one publisher's health history, lifecycle moves and interventions."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from apex_mediation.accounts.errors import InvalidInput, NotFound
from apex_mediation.api.deps import SessionDep
from apex_mediation.billing.money import format_cents, format_micros_as_dollars
from apex_mediation.console.inputs import page_number, parse_id
from apex_mediation.console.rendering import ConsoleRoute, render
from apex_mediation.console.viewer import OperatorDep
from apex_mediation.db.models import (
    CHURN_RISKS,
    LIFECYCLE_STAGES,
    GrowthIntervention,
    GrowthNarrative,
    HealthScore,
    LifecycleTransition,
    Publisher,
    PublisherLifecycle,
)

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE = "/operator/growth"
PAGE_SIZE = 50
HISTORY_DAYS = 60
OPPORTUNITY_DAYS = 30
OPPORTUNITIES = ("upgrade_opportunity", "expansion_opportunity")
INTERVENTIONS_SHOWN = 100


# -- input and formatting --------------------------------------------------------------------


def parse_choice(value: str, field: str, choices: tuple[str, ...]) -> str | None:
    if not value:
        return None
    if value not in choices:
        raise InvalidInput(
            f"no {field} named \u201c{value}\u201d; choose one of: {', '.join(choices)}",
            field=field,
        )
    return value


def figure(name: str, value: object) -> str:
    """A narrative figure as text: amounts by their unit suffix, counts grouped."""
    if isinstance(value, int) and not isinstance(value, bool):
        if name.endswith("_cents"):
            return format_cents(value)
        if name.endswith("_micros"):
            return format_micros_as_dollars(value)
        return f"{value:,}"
    return str(value)


# -- the pages' rows -------------------------------------------------------------------------


@dataclass(frozen=True)
class GrowthRow:
    publisher: Publisher
    lifecycle: PublisherLifecycle | None
    health: HealthScore | None  # the latest day scored


@dataclass(frozen=True)
class GrowthPage:
    rows: list[GrowthRow]
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class Opportunity:
    intervention: GrowthIntervention
    publisher: Publisher


@dataclass(frozen=True)
class GrowthDetail:
    publisher: Publisher
    lifecycle: PublisherLifecycle | None
    history: list[HealthScore]  # newest day first
    transitions: list[LifecycleTransition]  # oldest first
    interventions: list[GrowthIntervention]  # newest first


async def list_growth(
    session: AsyncSession, stage: str | None, risk: str | None, page: int
) -> GrowthPage:
    """Publishers with a stage or a score, the least healthy first (unscored last); a page
    past the end shows the last one."""
    latest = (
        select(HealthScore)
        .ext(distinct_on(HealthScore.publisher_id))
        .order_by(HealthScore.publisher_id, HealthScore.day.desc())
        .subquery()
    )
    health = aliased(HealthScore, latest)
    where = [or_(PublisherLifecycle.publisher_id.is_not(None), health.publisher_id.is_not(None))]
    if stage:
        where.append(PublisherLifecycle.stage == stage)
    if risk:
        where.append(health.churn_risk == risk)
    joined = (
        select(Publisher, PublisherLifecycle, health)
        .outerjoin(PublisherLifecycle, PublisherLifecycle.publisher_id == Publisher.id)
        .outerjoin(health, health.publisher_id == Publisher.id)
        .where(*where)
    )
    total = await session.scalar(select(func.count()).select_from(joined.subquery())) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(page, pages)
    found = await session.execute(
        joined.order_by(health.score.asc().nulls_last(), Publisher.name, Publisher.id)
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    return GrowthPage([GrowthRow(p, lc, h) for p, lc, h in found.all()], total, page, pages)


async def latest_narrative(session: AsyncSession) -> GrowthNarrative | None:
    return await session.scalar(
        select(GrowthNarrative).order_by(GrowthNarrative.week_start.desc()).limit(1)
    )


async def open_opportunities(session: AsyncSession, now: dt.datetime) -> list[Opportunity]:
    found = await session.execute(
        select(GrowthIntervention, Publisher)
        .join(Publisher, Publisher.id == GrowthIntervention.publisher_id)
        .where(
            GrowthIntervention.kind.in_(OPPORTUNITIES),
            GrowthIntervention.created_at >= now - dt.timedelta(days=OPPORTUNITY_DAYS),
        )
        .order_by(GrowthIntervention.created_at.desc(), GrowthIntervention.id)
    )
    return [Opportunity(i, p) for i, p in found.all()]


async def detail(session: AsyncSession, publisher_id: uuid.UUID, today: dt.date) -> GrowthDetail:
    publisher = await session.get(Publisher, publisher_id)
    if publisher is None:
        raise NotFound("publisher not found")
    history = await session.scalars(
        select(HealthScore)
        .where(
            HealthScore.publisher_id == publisher_id,
            HealthScore.day > today - dt.timedelta(days=HISTORY_DAYS),
        )
        .order_by(HealthScore.day.desc())
    )
    transitions = await session.scalars(
        select(LifecycleTransition)
        .where(LifecycleTransition.publisher_id == publisher_id)
        .order_by(LifecycleTransition.occurred_at, LifecycleTransition.id)
    )
    interventions = await session.scalars(
        select(GrowthIntervention)
        .where(GrowthIntervention.publisher_id == publisher_id)
        .order_by(GrowthIntervention.created_at.desc(), GrowthIntervention.id)
        .limit(INTERVENTIONS_SHOWN)
    )
    return GrowthDetail(
        publisher,
        await session.get(PublisherLifecycle, publisher_id),
        list(history),
        list(transitions),
        list(interventions),
    )


# -- routes ----------------------------------------------------------------------------------


@router.get(PAGE)
async def growth(request: Request, viewer: OperatorDep, session: SessionDep) -> Response:
    query = request.query_params
    stage = parse_choice(query.get("stage", ""), "stage", LIFECYCLE_STAGES)
    risk = parse_choice(query.get("risk", ""), "risk", CHURN_RISKS)
    now = dt.datetime.now(dt.UTC)
    context = {
        "viewer": viewer,
        "found": await list_growth(session, stage, risk, page_number(query.get("page", ""))),
        "narrative": await latest_narrative(session),
        "opportunities": await open_opportunities(session, now),
        "stage": stage,
        "risk": risk,
        "stages": LIFECYCLE_STAGES,
        "risks": CHURN_RISKS,
        "opportunity_days": OPPORTUNITY_DAYS,
        "today": now.date(),
        "figure": figure,
        "utc": dt.UTC,
    }
    return render(request, "operator/growth.html", context)


@router.get(PAGE + "/{publisher_id}")
async def growth_publisher(
    request: Request, publisher_id: str, viewer: OperatorDep, session: SessionDep
) -> Response:
    now = dt.datetime.now(dt.UTC)
    context = {
        "viewer": viewer,
        "d": await detail(session, parse_id(publisher_id, "publisher"), now.date()),
        "history_days": HISTORY_DAYS,
        "today": now.date(),
        "utc": dt.UTC,
    }
    return render(request, "operator/growth_publisher.html", context)

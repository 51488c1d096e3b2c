"""The operator's sales journeys: every publisher's stage, scores, trial day and last email,
filterable by stage; and one publisher's journey: its stage history, the playbook emails sent
and, once converted, the monthly revenue and each email's share of the credit."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts.errors import InvalidInput, NotFound
from apex_mediation.api.deps import SessionDep
from apex_mediation.billing.money import PPM, format_cents, format_rate_ppm
from apex_mediation.console.inputs import page_number, parse_id
from apex_mediation.console.rendering import ConsoleRoute, render
from apex_mediation.console.viewer import OperatorDep
from apex_mediation.db.models import (
    JOURNEY_STAGES,
    BillingAccount,
    ConversionAttribution,
    CustomerJourney,
    JourneyTransition,
    Publisher,
    SalesConversion,
    SalesTouchpoint,
)
from apex_mediation.sales import journey

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE = "/operator/journeys"
PAGE_SIZE = 50
ENDED = ("converted", "lost")


# -- formatting ------------------------------------------------------------------------------


def probability(ppm: int) -> str:
    """One decimal, rounded down, in integers: 734_512 ppm → "73.4 %"."""
    tenths = ppm * 1000 // PPM
    return f"{tenths // 10}.{tenths % 10} %"


def share(ppm: int) -> str:
    """A touchpoint's share of the credit, exact, so shares adding to 1M ppm show 100 %."""
    return format_rate_ppm(ppm) if 0 <= ppm <= PPM else f"{ppm:,} ppm, over 100 %"


def days_in_stage(current: CustomerJourney, now: dt.datetime) -> int:
    return max(0, (now - current.stage_entered_at).days)


def trial_text(stage: str, account: BillingAccount | None, now: dt.datetime) -> str:
    if stage in ENDED:
        return stage
    if account is None:
        return "\u2013"
    return f"day {journey.trial_day(account, now)}"


# -- the pages' rows -------------------------------------------------------------------------


@dataclass(frozen=True)
class JourneyRow:
    journey: CustomerJourney
    publisher: Publisher
    account: BillingAccount | None
    last_touchpoint: SalesTouchpoint | None


@dataclass(frozen=True)
class JourneyPage:
    rows: list[JourneyRow]
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class TouchpointRow:
    touchpoint: SalesTouchpoint
    weight_ppm: int | None  # its share of the conversion's credit, if it converted


@dataclass(frozen=True)
class JourneyDetail:
    journey: CustomerJourney
    publisher: Publisher
    account: BillingAccount | None
    history: list[JourneyTransition]
    touchpoints: list[TouchpointRow]
    conversion: SalesConversion | None
    credited_ppm: int  # the shares' sum: 1,000,000 when the credit is fully shared


def parse_stage(value: str) -> str | None:
    if not value:
        return None
    if value not in JOURNEY_STAGES:
        raise InvalidInput(
            f"no stage named \u201c{value}\u201d; stages: {', '.join(JOURNEY_STAGES)}",
            field="stage",
        )
    return value


async def _last_touchpoints(
    session: AsyncSession, ids: list[uuid.UUID]
) -> dict[uuid.UUID, SalesTouchpoint]:
    rows = await session.scalars(
        select(SalesTouchpoint)
        .where(SalesTouchpoint.publisher_id.in_(ids))
        .ext(distinct_on(SalesTouchpoint.publisher_id))
        .order_by(SalesTouchpoint.publisher_id, SalesTouchpoint.sent_at.desc())
    )
    return {row.publisher_id: row for row in rows}


async def list_journeys(session: AsyncSession, stage: str | None, page: int) -> JourneyPage:
    """Most recently moved first; a page past the end shows the last one."""
    where = [CustomerJourney.stage == stage] if stage else []
    total = await session.scalar(select(func.count()).select_from(CustomerJourney).where(*where))
    pages = max(1, -(-(total or 0) // PAGE_SIZE))
    page = min(page, pages)
    found = await session.execute(
        select(CustomerJourney, Publisher, BillingAccount)
        .join(Publisher, Publisher.id == CustomerJourney.publisher_id)
        .outerjoin(BillingAccount, BillingAccount.publisher_id == CustomerJourney.publisher_id)
        .where(*where)
        .order_by(CustomerJourney.stage_entered_at.desc(), CustomerJourney.publisher_id)
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    triples = found.all()
    last = await _last_touchpoints(session, [j.publisher_id for j, _, _ in triples])
    rows = [JourneyRow(j, p, a, last.get(j.publisher_id)) for j, p, a in triples]
    return JourneyPage(rows, total or 0, page, pages)


async def detail(session: AsyncSession, publisher_id: uuid.UUID) -> JourneyDetail:
    found = (
        await session.execute(
            select(CustomerJourney, Publisher)
            .join(Publisher, Publisher.id == CustomerJourney.publisher_id)
            .where(CustomerJourney.publisher_id == publisher_id)
        )
    ).first()
    if found is None:
        raise NotFound("no sales journey for this publisher")
    current, publisher = found
    conversion = await session.scalar(
        select(SalesConversion).where(SalesConversion.publisher_id == publisher_id)
    )
    weights: dict[uuid.UUID, int] = {}
    if conversion is not None:
        shares = await session.execute(
            select(ConversionAttribution.touchpoint_id, ConversionAttribution.weight_ppm).where(
                ConversionAttribution.conversion_id == conversion.id
            )
        )
        weights = {touchpoint: weight for touchpoint, weight in shares.all()}
    touchpoints = await session.scalars(
        select(SalesTouchpoint)
        .where(SalesTouchpoint.publisher_id == publisher_id)
        .order_by(SalesTouchpoint.sent_at, SalesTouchpoint.id)
    )
    return JourneyDetail(
        current,
        publisher,
        await session.get(BillingAccount, publisher_id),
        await journey.history(session, publisher_id),
        [TouchpointRow(t, weights.get(t.id)) for t in touchpoints],
        conversion,
        sum(weights.values()),
    )


# -- routes ----------------------------------------------------------------------------------


@router.get(PAGE)
async def journeys(request: Request, viewer: OperatorDep, session: SessionDep) -> Response:
    stage = parse_stage(request.query_params.get("stage", ""))
    found = await list_journeys(session, stage, page_number(request.query_params.get("page", "")))
    context = {
        "viewer": viewer,
        "found": found,
        "stage": stage,
        "stages": JOURNEY_STAGES,
        "now": dt.datetime.now(dt.UTC),
        "probability": probability,
        "trial_text": trial_text,
        "days_in_stage": days_in_stage,
        "utc": dt.UTC,
    }
    return render(request, "operator/journeys.html", context)


@router.get(PAGE + "/{publisher_id}")
async def journey_page(
    request: Request, publisher_id: str, viewer: OperatorDep, session: SessionDep
) -> Response:
    found = await detail(session, parse_id(publisher_id, "publisher"))
    context = {
        "viewer": viewer,
        "d": found,
        "now": dt.datetime.now(dt.UTC),
        "probability": probability,
        "trial_text": trial_text,
        "days_in_stage": days_in_stage,
        "share": share,
        "cents": format_cents,
        "utc": dt.UTC,
    }
    return render(request, "operator/journey.html", context)

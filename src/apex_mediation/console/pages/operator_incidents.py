"""The operator's incidents page: open incidents first (critical before warning, the newest
first), then the most recently resolved, under the latest system snapshot's summary."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.api.deps import SessionDep
from apex_mediation.billing.money import PPM
from apex_mediation.console.rendering import NONE, ConsoleRoute, render
from apex_mediation.console.viewer import OperatorDep
from apex_mediation.db.models import Incident, SystemSnapshot

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE = "/operator/incidents"
RESOLVED_SHOWN = 100


# -- formatting ------------------------------------------------------------------------------


def _whole(value: Any) -> int | None:
    """A count from snapshot JSON, or None when it is missing or not a whole number."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def rate(ppm: Any) -> str:
    """A rate in ppm as a percentage, one decimal, rounded down in integers: 12_345 → 1.2 %."""
    found = _whole(ppm)
    if found is None or found < 0:
        return NONE
    tenths = found * 1000 // PPM
    return f"{tenths // 10}.{tenths % 10} %"


def seconds(ms: Any) -> str:
    """Milliseconds as seconds, one decimal, rounded down in integers: 61_250 → 61.2 s."""
    found = _whole(ms)
    if found is None or found < 0:
        return NONE
    return f"{found // 1000:,}.{found % 1000 // 100} s"


def count(value: Any) -> str:
    found = _whole(value)
    return NONE if found is None else f"{found:,}"


# -- the page's rows -------------------------------------------------------------------------


async def open_incidents(session: AsyncSession) -> list[Incident]:
    critical_first = case((Incident.severity == "critical", 0), else_=1)
    return list(
        await session.scalars(
            select(Incident)
            .where(Incident.resolved_at.is_(None))
            .order_by(critical_first, Incident.opened_at.desc(), Incident.id)
        )
    )


async def resolved_incidents(session: AsyncSession, limit: int) -> list[Incident]:
    return list(
        await session.scalars(
            select(Incident)
            .where(Incident.resolved_at.is_not(None))
            .order_by(Incident.resolved_at.desc(), Incident.id)
            .limit(limit)
        )
    )


async def latest_snapshot(session: AsyncSession) -> SystemSnapshot | None:
    return await session.scalar(
        select(SystemSnapshot).order_by(SystemSnapshot.taken_at.desc()).limit(1)
    )


# -- routes ----------------------------------------------------------------------------------


@router.get(PAGE)
async def incidents(request: Request, viewer: OperatorDep, session: SessionDep) -> Response:
    context = {
        "viewer": viewer,
        "open": await open_incidents(session),
        "resolved": await resolved_incidents(session, RESOLVED_SHOWN),
        "resolved_shown": RESOLVED_SHOWN,
        "snapshot": await latest_snapshot(session),
        "rate": rate,
        "seconds": seconds,
        "count": count,
        "utc": dt.UTC,
    }
    return render(request, "operator/incidents.html", context)

"""The operator's review of the self-evolving system: each proposal with its evidence, the exact
SQL it would run and its expected effect, to approve or reject (CSRF-checked, audited by
`records.decide`); and the decided ones with their measurements before and after. Also the
run-time knobs' values, which the operator may set within their bounds, and the permission for
the system to apply its tuning proposals without a decision (both audited)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts.errors import InvalidInput
from apex_mediation.api.deps import SessionDep
from apex_mediation.console.inputs import parse_id
from apex_mediation.console.rendering import NONE, ConsoleRoute, redirect, render
from apex_mediation.console.viewer import OperatorDep, Viewer
from apex_mediation.db.models import OPTIMIZATION_STATUSES, OptimizationRecord
from apex_mediation.evolve import records
from apex_mediation.tuning import settings as runtime_settings
from apex_mediation.tuning.knobs import KNOBS

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE = "/operator/optimizations"
JOB = "self_evolving"
DECIDED_SHOWN = 100
DONE = {
    "approved": "Approved {target}: the next {job} job run applies it, then measures it.",
    "rejected": "Rejected {target}: it will not be proposed again.",
}
SETTING_DONE = {
    "setting": "Set {target}; every serving process uses it within a few seconds.",
    "auto_on": "Tuning proposals are now applied without a decision, within their bounds.",
    "auto_off": "Tuning proposals now wait for your decision.",
}


# -- input and formatting --------------------------------------------------------------------


def parse_status(value: str) -> str | None:
    if not value:
        return None
    if value not in OPTIMIZATION_STATUSES:
        raise InvalidInput(
            f"no status named \u201c{value}\u201d; statuses: {', '.join(OPTIMIZATION_STATUSES)}",
            field="status",
        )
    return value


def mean_ms(mean_us: Any) -> str:
    """Microseconds as milliseconds, one decimal, rounded half up in integers: 12_345 → 12.3 ms.
    JSON that is not a whole number of microseconds shows as missing."""
    if not isinstance(mean_us, int) or isinstance(mean_us, bool) or mean_us < 0:
        return NONE
    tenths = (mean_us + 50) // 100
    return f"{tenths // 10:,}.{tenths % 10} ms"


def count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else NONE


def share(ppm: Any) -> str:
    """Parts per million as a percentage to two decimals (truncated, in integers)."""
    if not isinstance(ppm, int) or isinstance(ppm, bool) or ppm < 0:
        return NONE
    return f"{ppm // 10_000}.{ppm // 100 % 100:02d} %"


def measurement(record: OptimizationRecord, side: dict[str, Any] | None) -> tuple[str, str]:
    """A before or after figure and what it was measured over: an index's mean time over its
    statement's calls, a tuning change's measured share over its sample."""
    if not side:
        return NONE, ""
    if record.action == "tune_setting":
        return share(side.get("ppm")), count(side.get("sample"))
    return mean_ms(side.get("mean_us")), count(side.get("calls"))


def parse_value(raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise InvalidInput("the value must be a whole number", field="value") from None


# -- the page's records ----------------------------------------------------------------------


async def proposed(session: AsyncSession) -> list[OptimizationRecord]:
    """Waiting for a decision: the AI's ranking first when it gave one, then the oldest."""
    return list(
        await session.scalars(
            select(OptimizationRecord)
            .where(OptimizationRecord.status == "proposed")
            .order_by(
                OptimizationRecord.ai_rank.asc().nulls_last(),
                OptimizationRecord.proposed_at,
                OptimizationRecord.id,
            )
        )
    )


async def decided(session: AsyncSession, status: str | None) -> list[OptimizationRecord]:
    """Decided records (or those of one status), the most recently changed first."""
    changed = func.coalesce(
        OptimizationRecord.finished_at,
        OptimizationRecord.applied_at,
        OptimizationRecord.decided_at,
        OptimizationRecord.proposed_at,
    )
    where = (
        OptimizationRecord.status == status if status else OptimizationRecord.status != "proposed"
    )
    return list(
        await session.scalars(
            select(OptimizationRecord)
            .where(where)
            .order_by(changed.desc(), OptimizationRecord.id)
            .limit(DECIDED_SHOWN)
        )
    )


async def counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(OptimizationRecord.status, func.count()).group_by(OptimizationRecord.status)
    )
    return {status: n for status, n in rows.all()}


async def flash(session: AsyncSession, done: str, record_id: str) -> str | None:
    """The message after a decision, naming the record's target (from the database, not the
    query string)."""
    if done in SETTING_DONE:
        key = record_id if record_id in KNOBS else ""
        return SETTING_DONE[done].format(target=key) if key or done != "setting" else None
    if done not in DONE:
        return None
    try:
        record = await session.get(OptimizationRecord, uuid.UUID(record_id))
    except ValueError:
        return None
    return None if record is None else DONE[done].format(target=record.target, job=JOB)


# -- routes ----------------------------------------------------------------------------------


@router.get(PAGE)
async def optimizations(request: Request, viewer: OperatorDep, session: SessionDep) -> Response:
    query = request.query_params
    status = parse_status(query.get("status", ""))
    show_proposed, show_decided = status in (None, "proposed"), status != "proposed"
    context = {
        "viewer": viewer,
        "status": status,
        "statuses": OPTIMIZATION_STATUSES,
        "counts": await counts(session),
        "proposed": await proposed(session) if show_proposed else [],
        "decided": await decided(session, status) if show_decided else [],
        "show_proposed": show_proposed,
        "show_decided": show_decided,
        "decided_shown": DECIDED_SHOWN,
        "job": JOB,
        "flash": await flash(session, query.get("done", ""), query.get("id", "")),
        "mean_ms": mean_ms,
        "count": count,
        "share": share,
        "measurement": measurement,
        "knobs": list(KNOBS.values()),
        "values": await runtime_settings.values(session),
        "auto_tune": await runtime_settings.auto_tune_allowed(session),
        "utc": dt.UTC,
    }
    return render(request, "operator/optimizations.html", context)


async def _decide(viewer: Viewer, session: AsyncSession, record_id: str, approve: bool) -> Response:
    found = parse_id(record_id, "optimisation record")
    now = dt.datetime.now(dt.UTC)
    record = await records.decide(session, viewer.actor, found, approve, now)
    return redirect(f"{PAGE}?{urlencode({'done': record.status, 'id': str(record.id)})}")


@router.post(PAGE + "/{record_id}/approve")
async def approve(record_id: str, viewer: OperatorDep, session: SessionDep) -> Response:
    return await _decide(viewer, session, record_id, approve=True)


@router.post(PAGE + "/{record_id}/reject")
async def reject(record_id: str, viewer: OperatorDep, session: SessionDep) -> Response:
    return await _decide(viewer, session, record_id, approve=False)


@router.post(PAGE + "/settings/{key}")
async def set_setting(
    key: str, request: Request, viewer: OperatorDep, session: SessionDep
) -> Response:
    form = await request.form()
    value = parse_value(str(form.get("value", "")))
    await runtime_settings.set_value(session, viewer.actor, key, value, reason="set by an operator")
    return redirect(f"{PAGE}?{urlencode({'done': 'setting', 'id': key})}")


@router.post(PAGE + "/auto-tune")
async def set_auto_tune(request: Request, viewer: OperatorDep, session: SessionDep) -> Response:
    allowed = (await request.form()).get("allowed") == "on"
    await runtime_settings.set_auto_tune(session, viewer.actor, allowed)
    return redirect(f"{PAGE}?{urlencode({'done': 'auto_on' if allowed else 'auto_off'})}")

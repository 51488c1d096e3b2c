"""The operator's AI cost page: this month's spend against the budget and its thresholds, spend
and calls by feature, the flags with a switch each, the budget form and the latest ledger rows.
Every amount is integer micro-dollars, formatted without a float."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts.errors import InvalidInput
from apex_mediation.ai import budget, flags, review
from apex_mediation.ai.features import FEATURE_FLAGS, MASTER_FLAG, Feature
from apex_mediation.ai.money import micros_to_dollars
from apex_mediation.api.deps import ServicesDep, SessionDep
from apex_mediation.billing.money import format_micros_as_dollars
from apex_mediation.console.inputs import form_text
from apex_mediation.console.rendering import ConsoleRoute, form_error, redirect, render
from apex_mediation.console.viewer import OperatorDep
from apex_mediation.db.models import AI_OUTCOMES, AiSpendEntry
from apex_mediation.settings import Settings

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE = "/operator/ai"
LEDGER_ROWS = 100
MAX_BUDGET_DOLLARS = 1_000_000
MICROS_PER_STEP = 100  # $0.0001, the smallest amount shown
DONE = {
    "flag": "Flag saved: it is in effect at once, in every process.",
    "budget": "Budget saved for this month and the months after it.",
}


# -- formatting ------------------------------------------------------------------------------


def ai_dollars(micros: int | None) -> str:
    """Cents from a dollar up ("$12.35"); below that four decimals, since one call costs a
    fraction of a cent ("$0.0012"). Zero is "$0.00"; a non-zero amount never shows as nothing
    ("< $0.0001")."""
    if micros is None:
        return "\u2013"
    if micros == 0 or abs(micros) >= budget.MICROS:
        return format_micros_as_dollars(micros)
    if abs(micros) < MICROS_PER_STEP // 2:  # would round to nothing
        return f"< {'-' if micros < 0 else ''}$0.0001"
    return micros_to_dollars(micros, 4)


def percent_of(part: int, whole: int) -> str:
    """One decimal, rounded down: "80.0 %"; against a zero budget any spend is 100 %."""
    if whole <= 0:
        return "100.0 %" if part > 0 else "0.0 %"
    tenths = part * 1000 // whole
    return f"{tenths // 10}.{tenths % 10} %"


# -- the page's figures ----------------------------------------------------------------------


@dataclass(frozen=True)
class Threshold:
    name: str
    percent: int
    micros: int


@dataclass(frozen=True)
class FlagRow:
    name: str
    label: str
    enabled: bool
    default: bool
    source: str  # "environment" | "set at run time"
    changed_at: dt.datetime | None


@dataclass(frozen=True)
class FeatureRow:
    feature: str
    flag: str
    calls_ai: bool
    spent_micros: int
    outcomes: dict[str, int]


@dataclass(frozen=True)
class AiCosts:
    standing: budget.Standing
    thresholds: list[Threshold]
    reached: str | None  # the highest threshold spend has reached
    forecast_micros: int
    days_elapsed: int
    days_in_month: int
    features: list[FeatureRow]
    flags: list[FlagRow]
    ledger: list[AiSpendEntry]


def forecast(spent_micros: int, now: dt.datetime) -> tuple[int, int, int]:
    """Linear: spend so far * days in the month // days begun (today counts)."""
    days = calendar.monthrange(now.year, now.month)[1]
    return review.forecast(spent_micros, now.date()), now.day, days


def reached(standing: budget.Standing, thresholds: list[Threshold]) -> str | None:
    hit = [t.name for t in thresholds if standing.spent_micros >= t.micros]
    return hit[-1] if hit else None


async def outcomes_by_feature(session: AsyncSession, month: dt.date) -> dict[str, dict[str, int]]:
    rows = await session.execute(
        select(AiSpendEntry.feature, AiSpendEntry.outcome, func.count())
        .where(AiSpendEntry.month == month)
        .group_by(AiSpendEntry.feature, AiSpendEntry.outcome)
    )
    counts: dict[str, dict[str, int]] = {}
    for feature, outcome, n in rows.all():
        counts.setdefault(feature, {})[outcome] = n
    return counts


async def _flag_rows(session: AsyncSession, settings: Settings) -> list[FlagRow]:
    effective = await flags.effective(session, settings)
    defaults = flags.defaults(settings)
    changed = await flags.changed_at(session)
    labels = {MASTER_FLAG: "Master switch: every feature"}
    labels.update({flag: f"Feature: {feature.value}" for feature, flag in FEATURE_FLAGS.items()})
    return [
        FlagRow(
            name,
            labels.get(name, name),
            effective[name],
            defaults[name],
            "set at run time" if name in changed else "environment",
            changed.get(name),
        )
        for name in effective
    ]


async def load(session: AsyncSession, settings: Settings, now: dt.datetime) -> AiCosts:
    standing = await budget.standing(session, settings, now)
    thresholds = [
        Threshold("soft", settings.ai_soft_limit_percent, standing.soft_micros),
        Threshold("warning", settings.ai_warning_percent, standing.warning_micros),
        Threshold("hard", settings.ai_hard_limit_percent, standing.hard_micros),
    ]
    spent = await budget.spent_by_feature(session, standing.month)
    outcomes = await outcomes_by_feature(session, standing.month)
    flag_rows = await _flag_rows(session, settings)
    effective = {row.name: row.enabled for row in flag_rows}
    known = [f.value for f in Feature]
    # Features of the ledger no longer in the code still show, so no spend goes unlisted.
    names = known + sorted((spent.keys() | outcomes.keys()) - set(known))
    features = [
        FeatureRow(
            name,
            FEATURE_FLAGS[Feature(name)] if name in known else "\u2013",
            name in known and flags.allows(effective, Feature(name)),
            spent.get(name, 0),
            outcomes.get(name, {}),
        )
        for name in names
    ]
    projected, elapsed, days = forecast(standing.spent_micros, now)
    return AiCosts(
        standing,
        thresholds,
        reached(standing, thresholds),
        projected,
        elapsed,
        days,
        features,
        flag_rows,
        await budget.ledger(session, standing.month, LEDGER_ROWS),
    )


# -- input -----------------------------------------------------------------------------------


def parse_dollars(text: str) -> int:
    """Whole dollars; "$1,500" is accepted as typed, "1.5" and "-5" are not."""
    cleaned = text.strip().removeprefix("$").replace(",", "")
    if not (cleaned.isascii() and cleaned.isdigit() and len(cleaned) <= 7):
        raise InvalidInput("whole dollars, from 0 to 1,000,000", field="dollars")
    dollars = int(cleaned)
    if dollars > MAX_BUDGET_DOLLARS:
        raise InvalidInput("whole dollars, from 0 to 1,000,000", field="dollars")
    return dollars


def parse_switch(text: str) -> bool:
    if text not in ("on", "off"):
        raise InvalidInput("on or off", field="enabled")
    return text == "on"


# -- routes ----------------------------------------------------------------------------------


async def _page(
    request: Request,
    context: dict[str, Any],
    session: AsyncSession,
    settings: Settings,
    status: int = 200,
) -> Response:
    costs = await load(session, settings, dt.datetime.now(dt.UTC))
    values = {
        "costs": costs,
        "master": MASTER_FLAG,
        "outcomes": AI_OUTCOMES,
        "money": ai_dollars,
        "pct": percent_of,
        "utc": dt.UTC,
    }
    return render(request, "operator/ai.html", {**values, **context}, status)


@router.get(PAGE)
async def ai_costs(
    request: Request, viewer: OperatorDep, session: SessionDep, services: ServicesDep
) -> Response:
    done = DONE.get(request.query_params.get("done", ""))
    return await _page(request, {"viewer": viewer, "flash": done}, session, services.settings)


@router.post(f"{PAGE}/flags")
async def set_flag(
    request: Request, viewer: OperatorDep, session: SessionDep, services: ServicesDep
) -> Response:
    data = await request.form()
    try:
        enabled = parse_switch(form_text(data, "enabled"))
        name = form_text(data, "name")
        await flags.set_flag(session, services.settings, viewer.actor, name, enabled)
    except InvalidInput as exc:
        context = {"viewer": viewer, "error": form_error(exc)}
        return await _page(request, context, session, services.settings, 400)
    return redirect(f"{PAGE}?done=flag")


@router.post(f"{PAGE}/budget")
async def set_budget(
    request: Request, viewer: OperatorDep, session: SessionDep, services: ServicesDep
) -> Response:
    typed = form_text(await request.form(), "dollars")
    try:
        dollars = parse_dollars(typed)
        await budget.set_budget(
            session, services.settings, viewer.actor, dollars, dt.datetime.now(dt.UTC)
        )
    except InvalidInput as exc:
        context = {"viewer": viewer, "error": form_error(exc), "typed_dollars": typed}
        return await _page(request, context, session, services.settings, 400)
    return redirect(f"{PAGE}?done=budget")

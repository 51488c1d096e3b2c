"""The scheduled jobs. Each has a period (its UTC hour or its day in a configured time zone)
that it completes at most once, a cron line for the worker's periodic trigger, and a function
doing the work that returns counts for the record. `due` lets a job wait for its hour (the AI
review goes out at 09:00 local) while the trigger fires more often."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from apex_mediation.ai import review
from apex_mediation.ai.gateway import AiGateway
from apex_mediation.billing.stripe_gateway import StripeGateway
from apex_mediation.compliance import processing, retention
from apex_mediation.evolve import cycle, explain
from apex_mediation.growth import engine, narrative
from apex_mediation.sales import automation
from apex_mediation.services import Services
from apex_mediation.settings import Settings

Work = Callable[[Services, dt.datetime, bool], Awaitable[dict[str, int]]]


@dataclass(frozen=True)
class Job:
    name: str
    description: str
    cron: str  # when the worker triggers it (UTC); the period decides whether it does anything
    period: str  # "hour" | "day" | "trigger" (no period: each trigger runs; idempotent work)
    work: Work
    due: Callable[[Settings, dt.datetime], bool] = lambda settings, now: True

    def period_key(self, settings: Settings, now: dt.datetime) -> str:
        if self.period == "hour":
            return now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H")
        if self.period == "trigger":
            return now.astimezone(dt.UTC).isoformat(timespec="microseconds")
        return now.astimezone(ZoneInfo(settings.ai_review_timezone)).date().isoformat()


async def _ai_review(services: Services, now: dt.datetime, dry_run: bool) -> dict[str, int]:
    async with services.postgres.session() as session:
        found = await review.build(session, services.settings, now)
        if dry_run:
            return {"features": len(found.by_feature), "queued": 0}
        queued = await review.send(session, services.settings, found)
        await session.commit()
    return {"features": len(found.by_feature), "queued": queued}


async def _sales(services: Services, now: dt.datetime, dry_run: bool) -> dict[str, int]:
    gateway = AiGateway(services.postgres, services.settings)
    try:
        return await automation.run_day(services, now, dry_run=dry_run, gateway=gateway)
    finally:
        await gateway.aclose()


async def _growth(services: Services, now: dt.datetime, dry_run: bool) -> dict[str, int]:
    stripe = StripeGateway.from_settings(services.settings)  # None: no discount offers
    try:
        counts = await engine.run_day(services, now, dry_run=dry_run, gateway=stripe)
    finally:
        if stripe is not None:
            await stripe.aclose()
    if not dry_run:
        gateway = AiGateway(services.postgres, services.settings)
        try:
            written = await narrative.write_weekly(services.postgres, gateway, now)
        finally:
            await gateway.aclose()
        counts["narrative"] = int(written is not None)
    return counts


async def _self_evolving(services: Services, now: dt.datetime, dry_run: bool) -> dict[str, int]:
    counts = await cycle.run(services.postgres, now, dry_run=dry_run)
    if not dry_run:
        gateway = AiGateway(services.postgres, services.settings)
        try:
            counts["explained"] = await explain.explain_open(services.postgres, gateway, now)
        finally:
            await gateway.aclose()
    return counts


JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        Job(
            "ai_review",
            "The daily AI cost review to Slack and email (at APEX_AI_REVIEW_HOUR local time)",
            "*/15 * * * *",
            "day",
            _ai_review,
            due=review.due,
        ),
        Job(
            "sales",
            "Journeys, scores, conversions and the trial playbook's emails, once a day",
            "5 * * * *",
            "day",
            _sales,
        ),
        Job(
            "growth",
            "Health scores, lifecycle stages, check-ins and opportunities, once a day",
            "35 * * * *",
            "day",
            _growth,
        ),
        Job(
            "self_evolving",
            "Slow statements to index proposals; apply approved ones, verify or roll back",
            "20 * * * *",
            "hour",
            _self_evolving,
        ),
        Job(
            "retention",
            "Removes what is past its retention window: events, auction logs, rollups, the "
            "audit log, export files",
            "50 * * * *",
            "day",
            retention.run,
        ),
        Job(
            "privacy_requests",
            "Builds pending data exports (also deferred at once when an export is requested)",
            "*/10 * * * *",
            "trigger",
            processing.run,
        ),
    )
}

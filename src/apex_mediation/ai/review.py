"""The daily AI cost review (09:00 in APEX_AI_REVIEW_TIMEZONE by default): month to date
against the budget, a linear end-of-month forecast and the top features, sent to Slack and to
the platform and finance addresses through the outbox — once per local day (the `ai_review`
job's period, and the outbox's dedupe key, are the date)."""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.ai import budget
from apex_mediation.ai.money import micros_to_dollars
from apex_mediation.notify import outbox
from apex_mediation.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Review:
    day: dt.date  # the local day of the review
    standing: budget.Standing
    forecast_micros: int
    by_feature: tuple[tuple[str, int], ...]  # most spent first

    def lines(self) -> list[str]:
        s = self.standing
        ppm = s.spent_ppm
        head = [
            f"Month to date ({s.month:%B %Y}): {micros_to_dollars(s.spent_micros)} of "
            f"{micros_to_dollars(s.budget_micros)} ({ppm // 10_000}.{ppm % 10_000 // 100:02d} %).",
            f"Forecast for the month at this pace: {micros_to_dollars(self.forecast_micros)}"
            + (" — over the budget." if self.forecast_micros > s.budget_micros else "."),
        ]
        features = [
            f"  {name}: {micros_to_dollars(spent, 4)}" for name, spent in self.by_feature
        ] or ["  no AI calls this month"]
        return [*head, "Top features:", *features]


def local_day(settings: Settings, now: dt.datetime) -> dt.datetime:
    return now.astimezone(ZoneInfo(settings.ai_review_timezone))


def forecast(spent_micros: int, day: dt.date) -> int:
    """Linear: the month's pace so far carried to its last day."""
    days = calendar.monthrange(day.year, day.month)[1]
    return spent_micros * days // day.day


async def build(session: AsyncSession, settings: Settings, now: dt.datetime) -> Review:
    standing = await budget.standing(session, settings, now)
    spent = await budget.spent_by_feature(session, standing.month)
    ranked = tuple(sorted(spent.items(), key=lambda item: (-item[1], item[0])))
    return Review(
        local_day(settings, now).date(),
        standing,
        forecast(standing.spent_micros, now.date()),
        ranked,
    )


async def send(session: AsyncSession, settings: Settings, review: Review) -> int:
    """Queue the review for Slack and both addresses; returns how many messages were queued
    (0 when today's review is already out)."""
    context = {
        "title": f"AI cost review, {review.day:%-d %B %Y}",
        "detail": "\n".join(review.lines()),
        "url": settings.base_url.rstrip("/") + "/operator/ai",
    }
    key = f"ai-review:{review.day.isoformat()}"
    queued = 0
    for address in sorted({a for a in (settings.platform_email, settings.finance_email) if a}):
        queued += bool(
            await outbox.enqueue_email(
                session,
                settings,
                template="alerts/operator_alert",
                context=context,
                category="alerts",
                to=address,
                transactional=True,
                dedupe_key=f"{key}:{address}",
            )
        )
    if settings.slack_webhook_url is not None:
        queued += bool(
            await outbox.enqueue_slack(
                session, settings, template="alerts/operator_alert", context=context, dedupe_key=key
            )
        )
    return queued


def due(settings: Settings, now: dt.datetime) -> bool:
    return local_day(settings, now).hour >= settings.ai_review_hour

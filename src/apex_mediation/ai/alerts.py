"""Budget alerts through the outbox: email to the platform and finance addresses and a Slack
message, once per month per threshold (the caller has claimed it)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.ai.budget import Standing, Threshold
from apex_mediation.notify import outbox
from apex_mediation.settings import Settings

_TITLES = {
    "soft": "AI spend passed {percent} % of the monthly budget",
    "warning": "Critical: AI spend passed {percent} % of the monthly budget",
    "hard": "Critical: AI hard limit reached, AI calls are refused",
}


def _dollars(micros: int) -> str:
    return f"${micros // 1_000_000:,}.{micros % 1_000_000 // 10_000:02d}"


async def send(
    session: AsyncSession, settings: Settings, threshold: Threshold, standing: Standing
) -> None:
    percent = {
        "soft": settings.ai_soft_limit_percent,
        "warning": settings.ai_warning_percent,
        "hard": settings.ai_hard_limit_percent,
    }[threshold]
    context = {
        "title": _TITLES[threshold].format(percent=percent),
        "detail": (
            f"{standing.month:%B %Y}: {_dollars(standing.spent_micros)} spent of a "
            f"{_dollars(standing.budget_micros)} budget "
            f"({_dollars(standing.reserved_micros)} reserved by calls in flight). "
            + (
                "Every further AI call is refused until the budget is raised or the month ends."
                if threshold == "hard"
                else "Calls are refused at the hard limit."
            )
        ),
        "url": settings.base_url.rstrip("/") + "/operator/ai",
    }
    key = f"ai-budget:{standing.month.isoformat()}:{threshold}"
    for address in {a for a in (settings.platform_email, settings.finance_email) if a}:
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
    if settings.slack_webhook_url is not None:
        await outbox.enqueue_slack(
            session, settings, template="alerts/operator_alert", context=context, dedupe_key=key
        )

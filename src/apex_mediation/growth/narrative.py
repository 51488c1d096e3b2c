"""With ENABLE_GROWTH_AI_ANALYTICS: a weekly narrative for the operator, written by the model
from the week's figures (lifecycle moves, churn risk, interventions, conversions). Stored with
the figures it was given, once per week; with AI off there is no narrative and the figures
stand on the operator pages."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from apex_mediation.ai.features import Feature
from apex_mediation.ai.gateway import AiError, AiGateway
from apex_mediation.db.models import (
    GrowthIntervention,
    GrowthNarrative,
    HealthScore,
    LifecycleTransition,
    SalesConversion,
)
from apex_mediation.stores.postgres import Postgres

MAX_CHARS = 2000


def week_of(now: dt.datetime) -> dt.date:
    return now.date() - dt.timedelta(days=now.weekday())


async def figures(postgres: Postgres, start: dt.date) -> dict[str, int]:
    since = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    until = since + dt.timedelta(days=7)
    async with postgres.session() as session:
        moves = dict(
            (await session.execute(
                select(LifecycleTransition.to_stage, func.count())
                .where(LifecycleTransition.occurred_at >= since,
                       LifecycleTransition.occurred_at < until)
                .group_by(LifecycleTransition.to_stage)
            )).all()
        )  # fmt: skip
        risk = dict(
            (await session.execute(
                select(HealthScore.churn_risk, func.count())
                .where(HealthScore.day == until.date() - dt.timedelta(days=1))
                .group_by(HealthScore.churn_risk)
            )).all()
        )  # fmt: skip
        interventions = await session.scalar(
            select(func.count())
            .select_from(GrowthIntervention)
            .where(GrowthIntervention.created_at >= since, GrowthIntervention.created_at < until)
        )
        conversions, mrr = (
            await session.execute(
                select(func.count(), func.coalesce(func.sum(SalesConversion.mrr_cents), 0)).where(
                    SalesConversion.converted_at >= since, SalesConversion.converted_at < until
                )
            )
        ).one()
    found = {f"to_{stage}": int(n) for stage, n in moves.items()}
    found |= {f"risk_{band}": int(n) for band, n in risk.items()}
    return found | {
        "interventions": int(interventions or 0),
        "conversions": int(conversions),
        "new_mrr_cents": int(mrr),
    }


async def write_weekly(
    postgres: Postgres, gateway: AiGateway | None, now: dt.datetime
) -> GrowthNarrative | None:
    """Last week's narrative, once (None when AI is off, failing, or it exists)."""
    start = week_of(now) - dt.timedelta(days=7)
    if gateway is None or not await gateway.enabled(Feature.GROWTH):
        return None
    async with postgres.session() as session:
        if await session.get(GrowthNarrative, start) is not None:
            return None
    found = await figures(postgres, start)
    facts = ", ".join(f"{k}: {v}" for k, v in sorted(found.items()))
    try:
        answer = await gateway.complete(
            Feature.GROWTH,
            [
                {
                    "role": "system",
                    "content": "Write a short weekly growth summary for the operator of an ad"
                    " mediation platform: what changed, what needs attention. Use only the"
                    " figures given; plain text, no links.",
                },
                {"role": "user", "content": f"Week of {start}: {facts}"},
            ],
            max_tokens=500,
            now=now,
        )
    except AiError:
        return None
    narrative = GrowthNarrative(
        week_start=start, text=answer.text.strip()[:MAX_CHARS], figures=found, created_at=now
    )
    async with postgres.session() as session:
        await session.execute(
            insert(GrowthNarrative)
            .values(week_start=start, text=narrative.text, figures=found, created_at=now)
            .on_conflict_do_nothing(index_elements=[GrowthNarrative.week_start])
        )
        await session.commit()
    return narrative

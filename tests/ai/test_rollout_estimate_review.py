"""The staged rollout follows the seed's plan and refuses with the reason; the estimator
reproduces the seed's figures; the daily review reports month to date, a forecast and the top
features, once a day, at the configured local hour."""

from __future__ import annotations

import calendar
import datetime as dt

import pytest
from sqlalchemy import select, update

from apex_mediation.accounts.errors import Conflict
from apex_mediation.accounts.identity import Actor
from apex_mediation.ai import budget, estimate, flags, review, rollout
from apex_mediation.ai.money import micros_to_dollars
from apex_mediation.db.models import AiBudgetMonth, AiFlag, NotificationOutbox
from apex_mediation.jobs.runner import run_job
from apex_mediation.services import Services

OPERATOR = Actor(kind="user", id="operator-7", publisher_id=None)


@pytest.mark.parametrize(
    ("customers", "expected"),
    [
        (
            100,
            [
                ("sales", "$2.77", "$2.77"),
                ("growth", "$2.77", "$5.54"),
                ("self_evolving", "$2.77", "$8.31"),
            ],
        ),
        (
            10_000,
            [
                ("sales", "$277.20", "$277.20"),
                ("growth", "$277.20", "$554.40"),
                ("self_evolving", "$276.60", "$831.00"),
            ],
        ),
        (
            0,
            [
                ("sales", "$0.00", "$0.00"),
                ("growth", "$0.00", "$0.00"),
                ("self_evolving", "$0.00", "$0.00"),
            ],
        ),
    ],
)
def test_the_estimator_reproduces_the_seed(
    services: Services, customers: int, expected: list[tuple[str, str, str]]
) -> None:
    rows = estimate.estimate(services.settings, customers)
    assert [
        (r.feature.value, estimate.dollars(r.cents), estimate.dollars(r.cumulative_cents))
        for r in rows
    ] == expected


def test_bad_usage_configuration_is_named(services: Services) -> None:
    broken = services.settings.model_copy(update={"ai_usage": "sales=30:abc:1"})
    with pytest.raises(ValueError, match="APEX_AI_USAGE"):
        estimate.estimate(broken, 100)


async def _set_spend(services: Services, now: dt.datetime, micros: int) -> None:
    async with services.postgres.session() as session:
        await budget.standing(session, services.settings, now)
        await session.execute(
            update(AiBudgetMonth)
            .where(AiBudgetMonth.month == budget.month_of(now))
            .values(spent_micros=micros)
        )
        await session.commit()


async def _flags_changed_at(services: Services, at: dt.datetime) -> None:
    async with services.postgres.session() as session:
        await session.execute(update(AiFlag).values(updated_at=at))
        await session.commit()


async def test_the_rollout_follows_the_plan_and_says_why_not(
    services: Services, month_now: dt.datetime
) -> None:
    import dataclasses

    from sqlalchemy import delete

    async with services.postgres.session() as session:
        await session.execute(delete(AiFlag))
        await session.commit()
    services = dataclasses.replace(services)
    now = month_now

    async def advance() -> rollout.Status:
        async with services.postgres.session() as session:
            status = await rollout.advance(session, services.settings, OPERATOR, now)
            await session.commit()
            return status

    async def flags_now() -> dict[str, bool]:
        async with services.postgres.session() as session:
            return await flags.effective(session, services.settings)

    try:
        assert (await advance()).stage == 1  # week 1: sales, at once
        effective = await flags_now()
        assert effective["ENABLE_AI_AUTOMATION"] and effective["ENABLE_SALES_AI_OPTIMIZATION"]
        assert not effective["ENABLE_GROWTH_AI_ANALYTICS"]
        await _flags_changed_at(services, now - dt.timedelta(days=2))
        with pytest.raises(Conflict, match="began 2 day"):
            await advance()
        await _flags_changed_at(services, now - dt.timedelta(days=8))
        await _set_spend(services, now, 50_000_000)
        with pytest.raises(Conflict, match=r"\$50.00, stage 2 needs under \$50"):
            await advance()
        await _set_spend(services, now, 49_990_000)
        assert (await advance()).stage == 2
        await _flags_changed_at(services, now - dt.timedelta(days=8))
        await _set_spend(services, now, 75_000_000)
        with pytest.raises(Conflict, match="under \\$75"):
            await advance()
        await _set_spend(services, now, 60_000_000)
        final = await advance()
        assert final.stage == 3 and final.next_stage is None
        assert all((await flags_now()).values())
        with pytest.raises(Conflict, match="already rolled out"):
            await advance()
    finally:
        async with services.postgres.session() as session:
            await session.execute(delete(AiFlag))
            await session.commit()


def test_the_forecast_is_linear() -> None:
    assert review.forecast(10_000_000, dt.date(2026, 11, 10)) == 30_000_000
    assert review.forecast(0, dt.date(2026, 2, 1)) == 0
    assert review.forecast(31_000_000, dt.date(2026, 1, 31)) == 31_000_000


async def test_the_review_goes_out_once_a_day_at_the_local_hour(
    services: Services, month_now: dt.datetime
) -> None:
    import dataclasses

    from pydantic import SecretStr

    settings = services.settings.model_copy(
        update={
            "platform_email": "platform@apex.example",
            "finance_email": "finance@apex.example",
            "ai_review_timezone": "Asia/Tokyo",
            "ai_review_hour": 9,
        }
    )
    settings.slack_webhook_url = SecretStr("http://127.0.0.1:9/slack")
    local = dataclasses.replace(services, settings=settings)
    day = month_now.replace(day=10)
    before = day.replace(hour=23, minute=0) - dt.timedelta(days=1)  # 08:00 in Tokyo
    at_nine = before + dt.timedelta(hours=1)  # 09:00 in Tokyo
    await _set_spend(local, day, 12_345_678)
    early = await run_job(local, "ai_review", now=before)
    assert (early.outcome, early.error) == ("skipped", "not due yet in this period")
    sent = await run_job(local, "ai_review", now=at_nine)
    assert sent.outcome == "ok" and sent.counts == {"features": 0, "queued": 3}
    again = await run_job(local, "ai_review", now=at_nine + dt.timedelta(hours=3))
    assert (again.outcome, again.error) == ("skipped", "this period is already done")
    async with services.postgres.session() as session:
        found = await session.scalar(
            select(NotificationOutbox).where(
                NotificationOutbox.recipient == "finance@apex.example",
                NotificationOutbox.dedupe_key.like(f"ai-review:{day.date().isoformat()}%"),
            )
        )
    assert found is not None
    assert "$12.35 of $100.00 (12.34 %)" in found.body_text  # half-up to the cent
    # Ten days in: the forecast carries the pace to the month's end.
    days = calendar.monthrange(day.year, day.month)[1]
    forecast = micros_to_dollars(12_345_678 * days // 10)
    assert f"Forecast for the month at this pace: {forecast}" in found.body_text

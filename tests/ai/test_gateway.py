"""The AI gateway against a local OpenAI stand-in: flags decide, the budget is reserved before
and settled after with the API's real usage, failures cost nothing, the hard limit holds under
100 concurrent calls, and each threshold alerts once a month."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select, update

from apex_mediation.accounts.identity import Actor
from apex_mediation.ai import budget, flags, metrics
from apex_mediation.ai.features import Feature
from apex_mediation.ai.gateway import AiBudgetExceeded, AiDisabled, AiGateway, AiUnavailable
from apex_mediation.ai.prices import parse_prices, prompt_token_bound
from apex_mediation.db.models import AiBudgetMonth, AiSpendEntry, AuditLog, NotificationOutbox
from apex_mediation.services import Services
from tests.ai.conftest import ai_settings
from tests.fake_openai import FakeOpenAI

MESSAGES = [{"role": "user", "content": "Write one line for a trial reminder email."}]
MINI = parse_prices("gpt-4o-mini=150000:600000")["gpt-4o-mini"]


async def _month(services: Services, month: dt.date) -> AiBudgetMonth:
    async with services.postgres.session() as session:
        row = await session.get(AiBudgetMonth, month)
        assert row is not None
        return row


async def _ledger(services: Services, month: dt.date) -> list[AiSpendEntry]:
    async with services.postgres.session() as session:
        return list(await session.scalars(select(AiSpendEntry).where(AiSpendEntry.month == month)))


async def test_everything_is_off_by_default(
    services: Services, fake_openai: FakeOpenAI, month_now: dt.datetime
) -> None:
    configured = ai_settings(
        services.settings,
        fake_openai,
        enable_ai_automation=False,
        enable_sales_ai_optimization=False,
        enable_growth_ai_analytics=False,
        enable_self_evolving_ai=False,
    )
    gateway = AiGateway(services.postgres, configured)
    blocked = metrics.requests_blocked_total.labels("sales", "disabled")._value.get()
    with pytest.raises(AiDisabled, match="ENABLE_AI_AUTOMATION"):
        await gateway.complete(Feature.SALES, MESSAGES, max_tokens=50, now=month_now)
    assert metrics.requests_blocked_total.labels("sales", "disabled")._value.get() == blocked + 1
    assert fake_openai.requests == 0
    await gateway.aclose()


@pytest.mark.parametrize(("master", "own"), [(True, False), (False, True)])
async def test_a_feature_needs_the_master_and_its_own_flag(
    services: Services, fake_openai: FakeOpenAI, month_now: dt.datetime, master: bool, own: bool
) -> None:
    configured = ai_settings(
        services.settings,
        fake_openai,
        enable_ai_automation=master,
        enable_growth_ai_analytics=own,
    )
    gateway = AiGateway(services.postgres, configured)
    with pytest.raises(AiDisabled):
        await gateway.complete(Feature.GROWTH, MESSAGES, max_tokens=50, now=month_now)
    assert fake_openai.requests == 0
    await gateway.aclose()


async def test_run_time_flags_take_effect_at_once_and_are_audited(
    ai_services: Services, fake_openai: FakeOpenAI, month_now: dt.datetime
) -> None:
    gateway = AiGateway(ai_services.postgres, ai_services.settings)
    await gateway.complete(Feature.SALES, MESSAGES, max_tokens=20, now=month_now)
    operator = Actor(kind="user", id="operator-1", publisher_id=None)
    async with ai_services.postgres.session() as session:
        assert await flags.set_flag(
            session, ai_services.settings, operator, "ENABLE_AI_AUTOMATION", False
        )
        await session.commit()
    with pytest.raises(AiDisabled):
        await gateway.complete(Feature.SALES, MESSAGES, max_tokens=20, now=month_now)
    async with ai_services.postgres.session() as session:
        entry = await session.scalar(
            select(AuditLog)
            .where(
                AuditLog.action == "ai.flag_changed", AuditLog.object_id == "ENABLE_AI_AUTOMATION"
            )
            .order_by(AuditLog.id.desc())
        )
    assert entry is not None and entry.actor_id == "operator-1"
    assert fake_openai.requests == 1
    await gateway.aclose()


async def test_a_call_is_settled_with_the_real_usage(
    ai_services: Services, fake_openai: FakeOpenAI, month_now: dt.datetime
) -> None:
    gateway = AiGateway(ai_services.postgres, ai_services.settings)
    answer = await gateway.complete(Feature.SALES, MESSAGES, max_tokens=200, now=month_now)
    assert answer.completion_tokens == fake_openai.completion_tokens == 50
    assert answer.cost_micros == MINI.cost_micros(answer.prompt_tokens, 50)
    month = budget.month_of(month_now)
    row = await _month(ai_services, month)
    assert row.spent_micros == answer.cost_micros and row.reserved_micros == 0
    [entry] = await _ledger(ai_services, month)
    assert (entry.feature, entry.model, entry.outcome) == ("sales", "gpt-4o-mini", "ok")
    assert (entry.prompt_tokens, entry.completion_tokens) == (answer.prompt_tokens, 50)
    assert entry.cost_micros == answer.cost_micros
    assert entry.reserved_micros == MINI.cost_micros(prompt_token_bound(MESSAGES), 200)
    assert entry.reserved_micros > entry.cost_micros  # the worst case, released on settling
    assert fake_openai.bodies[0]["max_tokens"] == 200
    await gateway.aclose()


async def test_a_failed_call_costs_nothing(
    ai_services: Services, fake_openai: FakeOpenAI, month_now: dt.datetime
) -> None:
    gateway = AiGateway(ai_services.postgres, ai_services.settings)
    fake_openai.fail_next(1, status=500)
    with pytest.raises(AiUnavailable, match="failed"):
        await gateway.complete(Feature.GROWTH, MESSAGES, max_tokens=50, now=month_now)
    month = budget.month_of(month_now)
    row = await _month(ai_services, month)
    assert (row.spent_micros, row.reserved_micros) == (0, 0)
    [entry] = await _ledger(ai_services, month)
    assert entry.outcome == "error" and entry.cost_micros == 0 and entry.error
    await gateway.aclose()


async def test_a_model_without_a_price_is_refused_before_sending(
    ai_services: Services, fake_openai: FakeOpenAI, month_now: dt.datetime
) -> None:
    gateway = AiGateway(ai_services.postgres, ai_services.settings)
    with pytest.raises(AiUnavailable, match="no price"):
        await gateway.complete(
            Feature.SALES, MESSAGES, max_tokens=50, model="gpt-unknown", now=month_now
        )
    assert fake_openai.requests == 0
    await gateway.aclose()


async def test_one_hundred_concurrent_calls_never_pass_the_hard_limit(
    ai_services: Services, fake_openai: FakeOpenAI, month_now: dt.datetime
) -> None:
    """At the edge: room for three and a half worst cases. Answers use their whole output
    allowance, so each call costs nearly its reservation: exactly three fit, whatever order
    100 racing calls arrive in, and the other 97 are refused without reaching the API."""
    fake_openai.completion_tokens = 10_000  # every answer is as long as max_tokens allows
    fake_openai.delay_s = 0.02
    gateway = AiGateway(ai_services.postgres, ai_services.settings)
    month = budget.month_of(month_now)
    worst = MINI.cost_micros(prompt_token_bound(MESSAGES), 4_000)
    async with ai_services.postgres.session() as session:
        edge = await budget.standing(session, ai_services.settings, month_now)
        await session.execute(
            update(AiBudgetMonth)
            .where(AiBudgetMonth.month == month)
            .values(spent_micros=edge.hard_micros - worst * 7 // 2)
        )
        await session.commit()

    async def call() -> str:
        try:
            await gateway.complete(Feature.SALES, MESSAGES, max_tokens=4_000, now=month_now)
        except AiBudgetExceeded:
            return "refused"
        return "ok"

    outcomes = await asyncio.gather(*(call() for _ in range(100)))
    assert outcomes.count("ok") == 3 and outcomes.count("refused") == 97
    assert fake_openai.requests == 3
    row = await _month(ai_services, month)
    assert row.reserved_micros == 0
    assert row.spent_micros <= edge.hard_micros
    entries = await _ledger(ai_services, month)
    assert sorted(e.outcome for e in entries) == ["ok"] * 3 + ["refused"] * 97
    assert sum(e.cost_micros or 0 for e in entries) == row.spent_micros - (
        edge.hard_micros - worst * 7 // 2
    )
    await gateway.aclose()


async def test_each_threshold_alerts_once_a_month(
    ai_services: Services, fake_openai: FakeOpenAI, month_now: dt.datetime
) -> None:
    from pydantic import SecretStr

    settings = ai_services.settings.model_copy(
        update={"platform_email": "platform@apex.example", "finance_email": "finance@apex.example"}
    )
    settings.slack_webhook_url = SecretStr("http://127.0.0.1:9/slack")
    services = dataclasses.replace(ai_services, settings=settings)
    gateway = AiGateway(services.postgres, settings)
    month = budget.month_of(month_now)
    async with services.postgres.session() as session:
        edge = await budget.standing(session, settings, month_now)
        # Just under the soft limit: the next call crosses it, the one after does not again.
        await session.execute(
            update(AiBudgetMonth)
            .where(AiBudgetMonth.month == month)
            .values(spent_micros=edge.soft_micros - 1)
        )
        await session.commit()
    for _ in range(2):
        await gateway.complete(Feature.SALES, MESSAGES, max_tokens=20, now=month_now)
    key = f"ai-budget:{month.isoformat()}:"
    async with services.postgres.session() as session:
        queued = list(
            await session.execute(
                select(NotificationOutbox.channel, NotificationOutbox.recipient)
                .where(NotificationOutbox.dedupe_key.like(key + "%"))
                .order_by(NotificationOutbox.channel, NotificationOutbox.recipient)
            )
        )
        subject = await session.scalar(
            select(NotificationOutbox.subject).where(
                NotificationOutbox.dedupe_key.like(key + "soft%")
            )
        )
    assert [tuple(r) for r in queued] == [
        ("email", "finance@apex.example"),
        ("email", "platform@apex.example"),
        ("slack", "operator"),
    ]
    assert subject is not None and "50 %" in subject
    # At the hard limit: refused, and the hard alert goes out once.
    async with services.postgres.session() as session:
        await session.execute(
            update(AiBudgetMonth)
            .where(AiBudgetMonth.month == month)
            .values(spent_micros=edge.hard_micros)
        )
        await session.commit()
    for _ in range(3):
        with pytest.raises(AiBudgetExceeded, match="hard limit"):
            await gateway.complete(Feature.SALES, MESSAGES, max_tokens=20, now=month_now)
    async with services.postgres.session() as session:
        hard = list(
            await session.scalars(
                select(NotificationOutbox.recipient).where(
                    NotificationOutbox.dedupe_key.like(key + "hard%")
                )
            )
        )
    assert sorted(hard) == ["finance@apex.example", "operator", "platform@apex.example"]
    spend = metrics.monthly_spend_dollars.labels("sales")._value.get()
    assert spend > 0
    await gateway.aclose()


async def test_the_configured_budget_applies_each_month_unless_an_operator_set_one(
    services: Services, month_now: dt.datetime
) -> None:
    operator = Actor(kind="user", id="operator-9", publisher_id=None)
    # Three consecutive months of this test's own (other tests own single months from 2200).
    month_now = month_now.replace(year=month_now.year + 500, month=1)
    following = month_now.replace(month=2)
    configured = services.settings.model_copy(update={"ai_monthly_budget_dollars": 150})
    async with services.postgres.session() as session:
        first = await budget.standing(session, services.settings, month_now)
        assert first.budget_micros == 100_000_000
        # The setting changes (a new Terraform value): next month uses it.
        second = await budget.standing(session, configured, following)
        assert second.budget_micros == 150_000_000
        # An operator's budget carries into the month after.
        await budget.set_budget(session, configured, operator, 300, following)
        third = await budget.standing(session, configured, following.replace(month=3))
        assert third.budget_micros == 300_000_000
        await session.commit()


async def test_the_spend_gauges_are_read_from_postgres(
    ai_services: Services, fake_openai: FakeOpenAI, month_now: dt.datetime
) -> None:
    """Every process publishes the month's true figures (the alerts sum one copy per feature)."""
    gateway = AiGateway(ai_services.postgres, ai_services.settings)
    answer = await gateway.complete(Feature.GROWTH, MESSAGES, max_tokens=50, now=month_now)
    metrics.monthly_spend_dollars.labels("growth").set(0)  # as in a process that made no call
    metrics.monthly_budget_dollars.set(0)
    async with ai_services.postgres.session() as session:
        await budget.refresh_metrics(session, ai_services.settings, month_now)
    assert metrics.monthly_spend_dollars.labels("growth")._value.get() == answer.cost_micros / 1e6
    assert metrics.monthly_budget_dollars._value.get() == 100
    await gateway.aclose()

"""AI only enriches: with the flags on, the model ranks and explains open proposals (advice
stored, never executed; a malformed answer is ignored) and writes the weekly growth narrative
from the week's figures; with the flags off nothing is sent."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete, select

from apex_mediation.ai.gateway import AiGateway
from apex_mediation.db.models import AiFlag, GrowthNarrative, OptimizationRecord
from apex_mediation.evolve import explain
from apex_mediation.growth import narrative
from apex_mediation.services import Services
from tests.ai.conftest import ai_settings
from tests.fake_openai import FakeOpenAI

NOW = dt.datetime(2360, 3, 15, 9, tzinfo=dt.UTC)


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI.running() as server:
        yield server


async def _clean(services: Services) -> None:
    async with services.postgres.session() as session:
        await session.execute(delete(OptimizationRecord).where(
            OptimizationRecord.target.like("test.%")))  # fmt: skip
        await session.execute(delete(AiFlag))
        await session.commit()


async def test_proposals_are_ranked_and_explained_only_with_the_flag(
    services: Services, fake: FakeOpenAI
) -> None:
    await _clean(services)
    async with services.postgres.session() as session:
        for n in (1, 2):
            session.add(OptimizationRecord(
                action="create_index", target=f"test.t{n}(c)", apply_sql="-", rollback_sql="-",
                evidence={"plan": f"Seq Scan on t{n}", "calls": 10 * n, "mean_us": 5000 * n},
                expected_effect="faster", status="proposed", proposed_at=NOW))  # fmt: skip
        await session.commit()
    off = AiGateway(services.postgres, ai_settings(services.settings, fake,
                                                   enable_self_evolving_ai=False))  # fmt: skip
    assert await explain.explain_open(services.postgres, off, NOW) == 0
    assert fake.requests == 0
    await off.aclose()

    fake.answer = "1. [2] the slower statement runs twice as often\nnoise line\n2. [1] smaller"
    on = AiGateway(services.postgres, ai_settings(services.settings, fake))
    assert await explain.explain_open(services.postgres, on, NOW) == 2
    async with services.postgres.session() as session:
        found = await session.scalars(
            select(OptimizationRecord).where(OptimizationRecord.target.like("test.%"))
        )
        rows = {r.target: r for r in found}
    assert rows["test.t2(c)"].ai_rank == 1 and "twice as often" in (
        rows["test.t2(c)"].ai_explanation or ""
    )
    assert rows["test.t1(c)"].ai_rank == 2
    assert all(r.status == "proposed" for r in rows.values())  # advice, nothing applied
    await on.aclose()
    await _clean(services)


async def test_the_weekly_narrative_is_written_once(services: Services, fake: FakeOpenAI) -> None:
    await _clean(services)
    fake.answer = "A quiet week: no publisher moved stage."
    settings = ai_settings(services.settings, fake)
    gateway = AiGateway(services.postgres, settings)
    local = dataclasses.replace(services, settings=settings)
    written = await narrative.write_weekly(local.postgres, gateway, NOW)
    assert written is not None and written.text == "A quiet week: no publisher moved stage."
    last_week = narrative.week_of(NOW) - dt.timedelta(days=7)
    assert written.week_start == last_week and last_week.weekday() == 0  # the Monday before
    assert written.figures["conversions"] == 0
    assert await narrative.write_weekly(local.postgres, gateway, NOW) is None  # once
    async with services.postgres.session() as session:
        stored = await session.get(GrowthNarrative, last_week)
    assert stored is not None and "user" in str(fake.bodies[-1]["messages"][1]["role"])
    await gateway.aclose()

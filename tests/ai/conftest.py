"""AI fixtures: the local OpenAI stand-in, settings with AI configured, and a clean slate of
run-time flags. Each test picks its own calendar month (far in the future) for the budget, so
tests never share a month's row."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import SecretStr
from sqlalchemy import delete

from apex_mediation.db.models import AiFlag
from apex_mediation.services import Services
from apex_mediation.settings import Settings
from tests.fake_openai import FakeOpenAI

_MONTHS = itertools.count()


@pytest.fixture
def month_now() -> Iterator[dt.datetime]:
    """A moment in a calendar month no other test uses."""
    n = next(_MONTHS)
    yield dt.datetime(2200 + n // 12, n % 12 + 1, 15, 12, tzinfo=dt.UTC)


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI.running() as fake:
        yield fake


def ai_settings(settings: Settings, fake: FakeOpenAI, **overrides: object) -> Settings:
    configured = settings.model_copy(
        update={
            "enable_ai_automation": True,
            "enable_sales_ai_optimization": True,
            "enable_growth_ai_analytics": True,
            "enable_self_evolving_ai": True,
            "openai_base_url": fake.base_url,
            **overrides,
        }
    )
    configured.openai_api_key = SecretStr(fake.api_key)
    return configured


@pytest.fixture
async def ai_services(services: Services, fake_openai: FakeOpenAI) -> AsyncIterator[Services]:
    async with services.postgres.session() as session:
        await session.execute(delete(AiFlag))
        await session.commit()
    yield dataclasses.replace(services, settings=ai_settings(services.settings, fake_openai))
    async with services.postgres.session() as session:
        await session.execute(delete(AiFlag))
        await session.commit()

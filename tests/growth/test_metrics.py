"""The growth gauges the churn alert and the business dashboard read: publishers per lifecycle
stage, and the churned share over 30 days, from PostgreSQL (a fresh database of its own, so the
counts are this test's)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from apex_mediation.db import migrate
from apex_mediation.db.models import LifecycleTransition, Publisher, PublisherLifecycle
from apex_mediation.growth import metrics
from apex_mediation.stores.postgres import Postgres, open_postgres

NOW = dt.datetime(2098, 3, 31, 12, tzinfo=dt.UTC)


@pytest.fixture
async def postgres(fresh_database: str, tmp_path: Path) -> AsyncIterator[Postgres]:
    await asyncio.to_thread(migrate.upgrade, fresh_database)
    handle = await open_postgres(fresh_database, tmp_path, pool_size=2)
    yield handle
    await handle.close()


async def test_stages_and_the_thirty_day_churn(postgres: Postgres) -> None:
    # Now: 3 active, 1 at risk, 1 on trial, 2 churned — one of them 40 days ago (outside the
    # window). Churn = 1 / (4 retained + 1) = 20 %.
    stages = ["active", "active", "active", "at_risk", "trial", "churned", "churned"]
    churned_days_ago = {5: 3, 6: 40}
    async with postgres.session() as session:
        for n, stage in enumerate(stages):
            publisher = Publisher(id=uuid.uuid4(), name=f"p{n}")
            session.add(publisher)
            await session.flush()
            session.add(PublisherLifecycle(publisher_id=publisher.id, stage=stage, entered_at=NOW))
            if n in churned_days_ago:
                at = NOW - dt.timedelta(days=churned_days_ago[n])
                session.add(LifecycleTransition(
                    publisher_id=publisher.id, from_stage="at_risk", to_stage="churned",
                    reason="no traffic", occurred_at=at))  # fmt: skip
        await session.commit()
        assert await metrics.churn(session, NOW) == (1, 5)
        await metrics.refresh(session, NOW)

    def gauge(name: str, labels: dict[str, str] | None = None) -> float | None:
        return REGISTRY.get_sample_value(name, labels or {})

    assert gauge("publisher_churn_ratio") == 0.2
    assert gauge("publishers_by_lifecycle_stage", {"stage": "active"}) == 3
    assert gauge("publishers_by_lifecycle_stage", {"stage": "churned"}) == 2
    assert gauge("publishers_by_lifecycle_stage", {"stage": "reactivated"}) == 0

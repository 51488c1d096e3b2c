"""Seven weeks of a paying publisher with a clock the test controls: steady traffic while
onboarding (an upgrade opportunity as its pace nears the Growth band), a drop that makes it at
risk (one check-in email, received by a real SMTP server, then a cooldown), two silent weeks
that churn it, and traffic coming back that reactivates it — with a health score every day."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import uuid
from collections.abc import Callable

import httpx
from pydantic import SecretStr
from sqlalchemy import select, update

from apex_mediation.db.models import BillingAccount, GrowthIntervention, HealthScore
from apex_mediation.growth import engine, lifecycle
from apex_mediation.notify.dispatch import dispatch_due
from apex_mediation.services import Services
from tests.helpers import Tenant
from tests.mailbox import running_mailbox
from tests.reporting.data import event

T0 = dt.datetime(2098, 5, 1, 6, tzinfo=dt.UTC)
PER_DAY = {**{d: 40 for d in range(0, 21)}, **{d: 10 for d in range(21, 28)},
           **{d: 40 for d in range(45, 50)}}  # fmt: skip
CPM_MICROS = 7_083_333_333  # 40 a day at this CPM: about $8,500 a month, near the Growth band


async def test_health_lifecycle_and_interventions_over_seven_weeks(
    services: Services, make_client: Callable[[], httpx.AsyncClient]
) -> None:
    async with make_client() as http:
        tenant = await Tenant.signup(http, name="Steady Games")
        app = await tenant.android_app()
        placement = await tenant.create(
            "/api/v1/placements", {"name": "p", "appId": app["id"], "format": "rewarded"}
        )
    publisher_id = uuid.UUID(tenant.publisher_id)
    async with services.postgres.session() as session:
        await session.execute(
            update(BillingAccount)
            .where(BillingAccount.publisher_id == publisher_id)
            .values(
                created_at=T0 - dt.timedelta(days=15),
                trial_started_at=T0 - dt.timedelta(days=15),
                trial_ends_at=T0 - dt.timedelta(days=1),
                plan="tiered",
                status="active",
                has_payment_method=True,
            )
        )
        await session.commit()
    rows = [
        event(publisher_id, at=T0 + dt.timedelta(days=day, hours=1, seconds=n),
              app_id=uuid.UUID(app["id"]), placement_id=uuid.UUID(placement["id"]),
              format="rewarded", cpm_micros=CPM_MICROS)
        for day, count in PER_DAY.items()
        for n in range(count)
    ]  # fmt: skip
    await services.analytics.insert("events", rows)

    with running_mailbox() as mailbox:
        settings = services.settings.model_copy()
        settings.smtp_url = SecretStr(f"smtp://127.0.0.1:{mailbox.port}")
        simulated = dataclasses.replace(services, settings=settings)
        for day in range(50):
            now = T0 + dt.timedelta(days=day, hours=12)
            counts = await engine.run_day(simulated, now, publisher_ids=[publisher_id])
            assert counts.get("errors", 0) == 0, (day, counts)
            await dispatch_due(services.postgres, settings, now=now)

    async with services.postgres.session() as session:
        stages = [(t.to_stage, (t.occurred_at - T0).days) for t in
                  await lifecycle.history(session, publisher_id)]  # fmt: skip
        scores = list(await session.scalars(
            select(HealthScore).where(HealthScore.publisher_id == publisher_id)
            .order_by(HealthScore.day)))  # fmt: skip
        done = list(await session.scalars(
            select(GrowthIntervention).where(GrowthIntervention.publisher_id == publisher_id)
            .order_by(GrowthIntervention.created_at)))  # fmt: skip

    assert [stage for stage, _ in stages] == [
        "onboarding", "at_risk", "churned", "reactivated"
    ]  # fmt: skip
    days = dict(stages)
    # Day 23: 190 impressions in the last 7 days against 280 the week before (-32 %).
    assert days["at_risk"] == 23
    assert days["churned"] == 41  # the first run with no impression in 14 days (last: day 27)
    assert days["reactivated"] == 45
    assert len(scores) == 50  # one per day
    assert scores[10].churn_risk == "medium" and scores[10].traffic_trend == 25
    assert scores[23].traffic_trend <= 10
    assert scores[40].score < scores[10].score
    kinds = [(i.kind, (i.created_at - T0).days) for i in done]
    assert kinds[0] == ("upgrade_opportunity", 7)  # a full week at about $8,500 a month
    assert [k for k, _ in kinds].count("upgrade_opportunity") == 1  # within its cooldown
    check_ins = [d for k, d in kinds if k == "check_in_email"]
    assert check_ins and check_ins[0] == days["at_risk"]
    assert all(b - a >= 14 for a, b in itertools.pairwise(check_ins))
    inbox = mailbox.to(tenant.email)
    assert [str(m["Subject"]) for m in inbox] == ["How is Steady Games doing on Apex?"] * len(
        check_ins
    )
    assert "280" in str(inbox[0].get_body(("plain",)).get_content())  # last week's impressions

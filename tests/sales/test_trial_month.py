"""A simulated trial month on the real stores, with a clock the test controls: two publishers
start a trial; one integrates (SDK traffic, placements, networks), saves a payment method and
converts; the other does nothing and is lost. The playbook emails arrive in a real SMTP server
on days 0, 1, 3, 6, 8, 11 and 13, never two within 24 hours, and the conversion is attributed
to the touchpoints before it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable

import httpx
from pydantic import SecretStr
from sqlalchemy import select, update

from apex_mediation.db.models import (
    BillingAccount,
    ConversionAttribution,
    CustomerJourney,
    SalesConversion,
    SalesTouchpoint,
    SdkVersionSeen,
)
from apex_mediation.notify.dispatch import dispatch_due
from apex_mediation.sales import automation, journey
from apex_mediation.services import Services
from tests.helpers import Tenant
from tests.mailbox import running_mailbox
from tests.reporting.data import auction, event

T0 = dt.datetime(2099, 3, 2, 9, tzinfo=dt.UTC)  # inside ClickHouse's DateTime range
PLAYBOOK_DAYS = [0, 1, 3, 6, 8, 11, 13]


async def _start_trial(services: Services, tenant: Tenant) -> uuid.UUID:
    publisher_id = uuid.UUID(tenant.publisher_id)
    async with services.postgres.session() as session:
        await session.execute(
            update(BillingAccount)
            .where(BillingAccount.publisher_id == publisher_id)
            .values(
                created_at=T0,
                trial_started_at=T0,
                trial_ends_at=T0 + dt.timedelta(days=14),
                plan="trial",
                status="trialing",
            )
        )
        await session.commit()
    return publisher_id


async def _integrate(services: Services, tenant: Tenant, publisher_id: uuid.UUID) -> None:
    """The active publisher: an app, two placements, two networks, and SDK traffic on days
    1 to 12 ($600 of revenue a day)."""
    app = await tenant.android_app()
    placements = [
        await tenant.create(
            "/api/v1/placements", {"name": f"p{i}", "appId": app["id"], "format": "rewarded"}
        )
        for i in range(2)
    ]
    for network, credentials in (
        ("admob", {"app_id": "ca-app-pub-123~456"}),
        ("unity", {"game_id": "1234567", "api_key": "k" * 16}),
    ):
        created = await tenant.call(
            "POST",
            "/api/v1/network-accounts",
            json={"network": network, "name": network, "credentials": credentials},
        )
        assert created.status_code in (201, 400), created.text
    async with services.postgres.session() as session:
        session.add(
            SdkVersionSeen(
                app_id=uuid.UUID(app["id"]),
                sdk_platform="android",
                sdk_version="4.2.0",
                first_seen_at=T0 + dt.timedelta(days=1),
                last_seen_at=T0 + dt.timedelta(days=12),
                requests=1,
            )
        )
        await session.commit()
    rows, auctions = [], []
    placement = uuid.UUID(placements[0]["id"])
    for day in range(1, 13):
        at = T0 + dt.timedelta(days=day, hours=2)
        for _ in range(3):
            rows.append(
                event(
                    publisher_id,
                    at=at,
                    app_id=uuid.UUID(app["id"]),
                    placement_id=placement,
                    format="rewarded",
                    cpm_micros=200_000 * 1_000_000,
                )  # $200 each
            )
            auctions.append(
                auction(
                    publisher_id,
                    at=at,
                    app_id=uuid.UUID(app["id"]),
                    placement_id=placement,
                    winner="admob",
                    format="rewarded",
                )
            )
    await services.analytics.insert("events", rows)
    await services.analytics.insert("auctions", auctions)


async def test_a_trial_month_drives_touchpoints_conversion_and_churn(
    services: Services, make_client: Callable[[], httpx.AsyncClient]
) -> None:
    async with make_client() as http_a, make_client() as http_b:
        active = await Tenant.signup(http_a, name="Active Games")
        idle = await Tenant.signup(http_b, name="Idle Games")
        a = await _start_trial(services, active)
        b = await _start_trial(services, idle)
        await _integrate(services, active, a)

    with running_mailbox() as mailbox:
        settings = services.settings.model_copy()
        settings.smtp_url = SecretStr(f"smtp://127.0.0.1:{mailbox.port}")
        simulated = dataclasses.replace(services, settings=settings)
        for day in range(17):
            now = T0 + dt.timedelta(days=day, hours=1)
            if day == 9:  # the active publisher saves a card (the checkout webhook's effect)
                async with services.postgres.session() as session:
                    await session.execute(
                        update(BillingAccount)
                        .where(BillingAccount.publisher_id == a)
                        .values(has_payment_method=True)
                    )
                    await session.commit()
            counts = await automation.run_day(simulated, now, publisher_ids=[a, b])
            assert counts.get("errors", 0) == 0, counts
            # A second run the same day sends nothing more (one touchpoint per 24 hours).
            again = await automation.run_day(
                simulated, now + dt.timedelta(hours=5), publisher_ids=[a, b]
            )
            assert again.get("touchpoints", 0) == 0
            await dispatch_due(services.postgres, settings, now=now + dt.timedelta(hours=6))

    async with services.postgres.session() as session:
        sent = {
            pid: [
                (t.trial_day, t.kind)
                for t in await session.scalars(
                    select(SalesTouchpoint)
                    .where(SalesTouchpoint.publisher_id == pid)
                    .order_by(SalesTouchpoint.sent_at)
                )
            ]
            for pid in (a, b)
        }
        stages = {
            pid: [(h.from_stage, h.to_stage) for h in await journey.history(session, pid)]
            for pid in (a, b)
        }
        journeys = {pid: await session.get(CustomerJourney, pid) for pid in (a, b)}
        conversion = await session.scalar(
            select(SalesConversion).where(SalesConversion.publisher_id == a)
        )
        lost_conversion = await session.scalar(
            select(SalesConversion).where(SalesConversion.publisher_id == b)
        )
        weights = list(
            await session.scalars(
                select(ConversionAttribution.weight_ppm).where(
                    ConversionAttribution.conversion_id == (conversion.id if conversion else None)
                )
            )
        )

    kinds = [
        "welcome",
        "benchmark",
        "revenue_estimate",
        "feature_unlock",
        "case_study",
        "trial_ending",
        "trial_last_day",
    ]
    assert sent[a] == list(zip(PLAYBOOK_DAYS, kinds, strict=True))
    assert sent[b] == list(zip(PLAYBOOK_DAYS, kinds, strict=True))
    assert stages[a] == [
        (None, "signup"),
        ("signup", "activation"),
        ("activation", "engagement"),
        ("engagement", "evaluation"),
        ("evaluation", "converted"),
    ]
    assert stages[b] == [(None, "signup"), ("signup", "lost")]
    assert journeys[a] is not None and journeys[b] is not None
    assert journeys[a].stage == "converted" and journeys[b].stage == "lost"
    assert conversion is not None and lost_conversion is None
    assert conversion.converted_at == T0 + dt.timedelta(days=14, hours=1)
    # MRR: the fee a month at the last 14 days' pace: $7,200 x 30 / 14 = $15,428.57 a month,
    # 2.5 % of what is above $10,000 = $135.71.
    assert conversion.mrr_cents == 13_571
    assert len(weights) == 7 and sum(weights) == 1_000_000
    # The emails themselves, received by the SMTP server, each with an unsubscribe link.
    inbox = mailbox.to(active.email)
    subjects = [str(m["Subject"]) for m in inbox]
    assert len(inbox) == 7, subjects
    assert subjects[0] == "Welcome to Apex Mediation, Active Games"
    assert any(s == "Revenue Active Games may be leaving on the table" for s in subjects)
    assert all(m["List-Unsubscribe"] for m in inbox)
    assert len(mailbox.to(idle.email)) == 7

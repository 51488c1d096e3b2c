"""The demo's billing: a local Stripe stand-in, and last month of simulated traffic for the demo
publisher (who, in the demo's story, joined six weeks ago), invoiced through the same cycle as
production — usage from ClickHouse, a line per fee band, pushed to Stripe and paid.

Deterministic (a seeded generator and a fixed dedup token), so a second `apex demo` inserts
nothing new and finds the invoice already issued."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

from pydantic import SecretStr
from sqlalchemy import update

from apex_mediation.billing import cycle, invoicing
from apex_mediation.billing.stripe_gateway import StripeGateway
from apex_mediation.db.models import BillingAccount
from apex_mediation.demo.fake_stripe import FakeStripe
from apex_mediation.services import Services
from apex_mediation.settings import Settings

IMPRESSIONS_PER_DAY = 10_000
NETWORKS = ("unity", "applovin", "ironsource")


async def start_stripe(settings: Settings, port: int) -> FakeStripe | None:
    """The stand-in, unless a real Stripe is configured; points the settings at it."""
    if settings.stripe_secret_key is not None:
        return None
    fake = FakeStripe(port=port)
    await fake.start()
    settings.stripe_secret_key = SecretStr(fake.api_key)
    settings.stripe_webhook_secret = SecretStr(fake.webhook_secret)
    settings.stripe_api_base = fake.base_url
    fake.deliver_to(settings.base_url.rstrip("/") + "/api/v1/billing/stripe/webhook")
    return fake


def month_of_events(
    publisher_id: uuid.UUID, app_id: uuid.UUID, placement_id: uuid.UUID, month: dt.date
) -> list[dict[str, Any]]:
    """Rewarded-video impressions over every hour of the month, eCPMs of $20 to $60."""
    rng = random.Random(f"{publisher_id}:{month}")
    start, end = invoicing.month_of(month)
    rows = []
    day = start
    while day < end:
        for n in range(IMPRESSIONS_PER_DAY):
            at = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) + dt.timedelta(
                seconds=n * 86_400 // IMPRESSIONS_PER_DAY
            )
            rows.append(
                {
                    "event_id": f"demo-{day.isoformat()}-{n}",
                    "event": "impression",
                    "received_at": at,
                    "auction_id": f"demo-{day.isoformat()}-{n}",
                    "bid_id": "",
                    "publisher_id": str(publisher_id),
                    "app_id": str(app_id),
                    "placement_id": str(placement_id),
                    "network": NETWORKS[n % len(NETWORKS)],
                    "format": "rewarded",
                    "platform": "android",
                    "country": rng.choice(("US", "US", "GB", "DE", "JP")),
                    "cpm_micros": rng.randrange(20_000_000, 60_000_001),
                    "currency": "USD",
                    "test": 0,
                    "ivt": 0,
                    "device_key": f"demo-device-{rng.randrange(50_000)}",
                }
            )
        day += dt.timedelta(days=1)
    return rows


async def invoice_last_month(
    services: Services,
    gateway: StripeGateway | None,
    publisher_id: uuid.UUID,
    app_id: uuid.UUID,
    placement_id: uuid.UUID,
    now: dt.datetime,
) -> cycle.CycleReport:
    this_month = now.date().replace(day=1)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1)
    joined = dt.datetime.combine(last_month, dt.time(), tzinfo=dt.UTC) - dt.timedelta(days=14)
    async with services.postgres.session() as session:
        await session.execute(
            update(BillingAccount)
            .where(BillingAccount.publisher_id == publisher_id, BillingAccount.created_at > joined)
            .values(
                created_at=joined,
                trial_started_at=joined,
                trial_ends_at=joined + dt.timedelta(days=services.settings.trial_days),
                plan="tiered",
                status="active",
            )
        )
        await session.commit()
    await services.analytics.insert(
        "events",
        month_of_events(publisher_id, app_id, placement_id, last_month),
        dedup_token=f"demo-month-{publisher_id}-{last_month}",
    )
    report = cycle.CycleReport()
    await cycle.issue_month(services, gateway, last_month, now, report, [publisher_id])
    return report

"""The daily sales run over every publisher: gather signals, score, move the journey, record a
conversion, send the playbook's next email. Each publisher is its own transaction, so one
failure stops no one else; with `dry_run` nothing is written or sent and the counts say what
would have happened."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import Counter

from apex_mediation.ai.gateway import AiGateway
from apex_mediation.db.models import BillingAccount, Publisher
from apex_mediation.jobs.each_publisher import for_each_publisher
from apex_mediation.sales import conversions, journey, playbook, scores, signals
from apex_mediation.services import Services

log = logging.getLogger(__name__)


async def run_day(
    services: Services,
    now: dt.datetime,
    *,
    dry_run: bool = False,
    gateway: AiGateway | None = None,
    publisher_ids: list[uuid.UUID] | None = None,
) -> dict[str, int]:
    async def step(publisher_id: uuid.UUID, counts: Counter[str]) -> None:
        await _one(services, publisher_id, now, dry_run, gateway, counts)

    return await for_each_publisher(services, "sales", step, publisher_ids)


async def _one(
    services: Services,
    publisher_id: uuid.UUID,
    now: dt.datetime,
    dry_run: bool,
    gateway: AiGateway | None,
    counts: Counter[str],
) -> None:
    async with services.postgres.session() as session:
        account = await session.get(BillingAccount, publisher_id)
        publisher = await session.get(Publisher, publisher_id)
        if account is None or publisher is None or now < account.trial_started_at:
            return
        found = await signals.gather(session, services.analytics, publisher_id, now)
        engaged = scores.engagement(found)
        current = await journey.journey_of(session, publisher_id, account.trial_started_at)
        current.engagement_score = engaged.score
        current.conversion_probability_ppm = scores.conversion_probability_ppm(
            engaged.score, found.first_sdk_request_at is not None
        )
        current.scored_at = now
        target = journey.target_stage(current.stage, found, account, now)
        if target is not None:
            counts[f"to_{target[0]}"] += 1
            await journey.move(session, current, target[0], target[1], now)
            if target[0] == "converted" and not dry_run:
                counts["conversions"] += bool(
                    await conversions.record(
                        session, services.analytics, services.settings, publisher_id, now
                    )
                )
        if dry_run:
            due = playbook.due_step((now - account.trial_started_at).days, set())
            counts["would_email"] += int(due is not None and now < account.trial_ends_at)
            await session.rollback()
            return
        touchpoint = await playbook.send_due(
            session, services.analytics, services.settings, gateway, publisher, account, now
        )
        if touchpoint is not None:
            counts["touchpoints"] += 1
            counts["personalised"] += touchpoint.personalised
        await session.commit()

"""The shape the daily runs share: every publisher with a billing account (or the given ones),
one at a time, each in its own transaction inside `step`, so one publisher's failure is logged
and counted and stops no one else."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable

from sqlalchemy import select

from apex_mediation.db.models import BillingAccount
from apex_mediation.services import Services

log = logging.getLogger(__name__)

Step = Callable[[uuid.UUID, Counter[str]], Awaitable[None]]


async def for_each_publisher(
    services: Services, name: str, step: Step, publisher_ids: list[uuid.UUID] | None = None
) -> dict[str, int]:
    counts: Counter[str] = Counter()
    async with services.postgres.session() as session:
        query = select(BillingAccount.publisher_id).order_by(BillingAccount.publisher_id)
        if publisher_ids is not None:
            query = query.where(BillingAccount.publisher_id.in_(publisher_ids))
        ids = list(await session.scalars(query))
    for publisher_id in ids:
        try:
            await step(publisher_id, counts)
        except Exception:
            log.exception("%s run for publisher %s failed", name, publisher_id)
            counts["errors"] += 1
    counts["publishers"] = len(ids)
    return dict(counts)

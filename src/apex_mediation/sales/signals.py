"""What a publisher has actually done, from real events: console logins by its members, SDK
traffic (ClickHouse), placements and networks configured, the first SDK request. Scores and
journey stages are computed from these and nothing else."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.db.models import (
    App,
    ConsoleSession,
    Membership,
    NetworkAccount,
    Placement,
    SdkVersionSeen,
)
from apex_mediation.stores.analytics import Analytics
from apex_mediation.tracking.event_names import IMPRESSION

WINDOW = dt.timedelta(days=7)
_TRAFFIC = f"""\
SELECT
    (SELECT sum(requests) FROM auctions_totals_hourly
     WHERE publisher_id = {{publisher_id:UUID}} AND test = 0
       AND hour >= {{start:DateTime('UTC')}} AND hour < {{end:DateTime('UTC')}}) AS requests,
    (SELECT sumIf(events, event = '{IMPRESSION}') FROM events_totals_hourly
     WHERE publisher_id = {{publisher_id:UUID}} AND test = 0 AND ivt = 0
       AND hour >= {{start:DateTime('UTC')}} AND hour < {{end:DateTime('UTC')}}) AS impressions,
    (SELECT uniqExact(toDate(hour)) FROM events_totals_hourly
     WHERE publisher_id = {{publisher_id:UUID}} AND test = 0 AND ivt = 0 AND events > 0
       AND hour >= {{start:DateTime('UTC')}} AND hour < {{end:DateTime('UTC')}}) AS active_days"""  # noqa: S608 - only the event name constant


@dataclass(frozen=True)
class Signals:
    logins_7d: int
    requests_7d: int
    impressions_7d: int
    active_days_7d: int
    placements: int
    networks: int
    first_sdk_request_at: dt.datetime | None


async def gather(
    session: AsyncSession, analytics: Analytics, publisher_id: uuid.UUID, now: dt.datetime
) -> Signals:
    since = now - WINDOW
    logins = await session.scalar(
        select(func.count())
        .select_from(ConsoleSession)
        .join(Membership, Membership.user_id == ConsoleSession.user_id)
        .where(
            Membership.publisher_id == publisher_id,
            ConsoleSession.created_at >= since,
            ConsoleSession.created_at < now,
        )
    )
    placements = await session.scalar(
        select(func.count()).select_from(Placement).where(Placement.publisher_id == publisher_id)
    )
    networks = await session.scalar(
        select(func.count(func.distinct(NetworkAccount.network))).where(
            NetworkAccount.publisher_id == publisher_id
        )
    )
    first_sdk = await session.scalar(
        select(func.min(SdkVersionSeen.first_seen_at))
        .join(App, App.id == SdkVersionSeen.app_id)
        .where(App.publisher_id == publisher_id)
    )
    [row] = await analytics.query(
        _TRAFFIC, {"publisher_id": publisher_id, "start": since, "end": now}
    )
    return Signals(
        logins_7d=int(logins or 0),
        requests_7d=int(row["requests"] or 0),
        impressions_7d=int(row["impressions"] or 0),
        active_days_7d=int(row["active_days"] or 0),
        placements=int(placements or 0),
        networks=int(networks or 0),
        first_sdk_request_at=first_sdk if first_sdk is None or first_sdk <= now else None,
    )

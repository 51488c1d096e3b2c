"""Daily usage per publisher: mediated revenue, impressions and ad requests from ClickHouse
(test and invalid traffic excluded, as in every report), API calls from the cache's daily
counter. `record_day` is idempotent: recomputing a day replaces its row (a late beacon or a
re-run only ever corrects it), keeping the first created_at."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.db.models import UsageRecord
from apex_mediation.stores.analytics import Analytics
from apex_mediation.stores.cache import Cache
from apex_mediation.tracking.event_names import IMPRESSION

log = logging.getLogger(__name__)
API_CALLS_TTL_S = 40 * 86_400  # long enough for a late daily run to read the counter

_EVENTS = f"""\
SELECT toDate(hour, 'UTC') AS day,
       intDiv(sumIf(cpm_micros_sum, event = '{IMPRESSION}'), 1000) AS revenue_micros,
       sumIf(events, event = '{IMPRESSION}') AS impressions
FROM events_totals_hourly
WHERE publisher_id = {{publisher_id:UUID}} AND test = 0 AND ivt = 0
      AND hour >= {{start:DateTime('UTC')}} AND hour < {{end:DateTime('UTC')}}
GROUP BY day"""  # noqa: S608 - only the event name constant is spliced in
_REQUESTS = """\
SELECT toDate(hour, 'UTC') AS day, sum(requests) AS requests
FROM auctions_totals_hourly
WHERE publisher_id = {publisher_id:UUID} AND test = 0
      AND hour >= {start:DateTime('UTC')} AND hour < {end:DateTime('UTC')}
GROUP BY day"""


@dataclass(frozen=True)
class DayUsage:
    day: dt.date
    revenue_micros: int = 0
    impressions: int = 0
    requests: int = 0
    api_calls: int = 0


def api_calls_key(publisher_id: uuid.UUID, day: dt.date) -> str:
    return f"billing:api_calls:{publisher_id}:{day.isoformat()}"


async def count_api_call(cache: Cache, publisher_id: uuid.UUID, now: dt.datetime) -> None:
    """Count one API call; a cache outage loses the count, never the request."""
    try:
        await cache.incr(api_calls_key(publisher_id, now.date()), ttl_s=API_CALLS_TTL_S)
    except Exception as exc:
        log.warning("API call not counted (cache unavailable): %s", exc)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


async def tracked_days(
    analytics: Analytics, publisher_id: uuid.UUID, start: dt.date, end: dt.date
) -> dict[dt.date, DayUsage]:
    """Usage per UTC day in [start, end) as ClickHouse holds it (days without traffic absent)."""
    params = {"publisher_id": publisher_id, "start": _midnight(start), "end": _midnight(end)}
    revenue = {
        dt.date.fromisoformat(str(row["day"])): row
        for row in await analytics.query(_EVENTS, params)
    }
    requests = {
        dt.date.fromisoformat(str(row["day"])): int(row["requests"])
        for row in await analytics.query(_REQUESTS, params)
    }
    days: dict[dt.date, DayUsage] = {}
    for day in sorted(revenue.keys() | requests.keys()):
        row = revenue.get(day, {})
        days[day] = DayUsage(
            day,
            revenue_micros=int(row.get("revenue_micros", 0)),
            impressions=int(row.get("impressions", 0)),
            requests=requests.get(day, 0),
        )
    return days


async def record_range(
    session: AsyncSession,
    analytics: Analytics,
    cache: Cache,
    publisher_id: uuid.UUID,
    start: dt.date,
    end: dt.date,
) -> list[DayUsage]:
    """Compute and store one publisher's usage for every day in [start, end), days without
    traffic included (as zeros); a day already stored is replaced."""
    tracked = await tracked_days(analytics, publisher_id, start, end)
    recorded = []
    day = start
    while day < end:
        raw = await cache.get(api_calls_key(publisher_id, day))
        found = tracked.get(day, DayUsage(day))
        usage = DayUsage(
            day, found.revenue_micros, found.impressions, found.requests, int(raw or 0)
        )
        values = {
            "mediated_revenue_micros": usage.revenue_micros,
            "impressions": usage.impressions,
            "requests": usage.requests,
            "api_calls": usage.api_calls,
        }
        statement = insert(UsageRecord).values(
            publisher_id=publisher_id, period_start=day, period_end=day, **values
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[
                    UsageRecord.publisher_id,
                    UsageRecord.period_start,
                    UsageRecord.period_end,
                ],
                set_={**values, "updated_at": func.now()},
            )
        )
        recorded.append(usage)
        day += dt.timedelta(days=1)
    return recorded


async def stored_days(
    session: AsyncSession, publisher_id: uuid.UUID, start: dt.date, end: dt.date
) -> list[DayUsage]:
    rows = await session.scalars(
        select(UsageRecord)
        .where(
            UsageRecord.publisher_id == publisher_id,
            UsageRecord.period_start == UsageRecord.period_end,
            UsageRecord.period_start >= start,
            UsageRecord.period_start < end,
        )
        .order_by(UsageRecord.period_start)
    )
    return [
        DayUsage(r.period_start, r.mediated_revenue_micros, r.impressions, r.requests, r.api_calls)
        for r in rows
    ]

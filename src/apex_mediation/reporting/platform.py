"""Platform-wide figures for the operator: revenue per publisher over a period.

Cross-tenant by design, so these queries do not go through `service.fetch` (which insists on a
single publisher); only the operator's pages call them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from apex_mediation.reporting.params import Period
from apex_mediation.reporting.sql import EVENTS_TOTALS_HOURLY, IMPRESSION
from apex_mediation.stores.analytics import Analytics


async def revenue_by_publisher(
    analytics: Analytics, publisher_ids: Sequence[uuid.UUID], period: Period
) -> dict[uuid.UUID, tuple[int, int]]:
    """publisher id -> (revenue micros, impressions), paid traffic only."""
    if not publisher_ids:
        return {}
    rows = await analytics.query(
        "SELECT publisher_id, sum(cpm_micros_sum) AS cpm, sum(events) AS impressions"  # noqa: S608
        f" FROM {EVENTS_TOTALS_HOURLY} WHERE publisher_id IN {{ids:Array(UUID)}}"
        " AND hour >= {start:DateTime('UTC')} AND hour < {end:DateTime('UTC')}"
        f" AND event = '{IMPRESSION}' AND test = 0 AND ivt = 0 GROUP BY publisher_id",
        {"ids": [str(i) for i in publisher_ids], "start": period.start, "end": period.end},
    )
    return {
        uuid.UUID(row["publisher_id"]): ((int(row["cpm"]) + 500) // 1000, int(row["impressions"]))
        for row in rows
    }

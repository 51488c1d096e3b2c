"""The publisher's invalid-traffic report: how much of their traffic was invalid, by app,
placement, network, country, format, reason or time, and why.

Totals come from the rollups that every report reads (events by their `ivt` flag; valid
requests from the auction rollups, which leave invalid requests out since migration 0008);
invalid requests and the reasons come from `ivt_hourly`, where each invalid record counts once
under reason '' and once under each of its reasons. Test traffic is left out, as everywhere.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

from apex_mediation.reporting import service, sql
from apex_mediation.reporting.params import Filters, Period
from apex_mediation.stores.analytics import Analytics
from apex_mediation.tracking.event_names import CLICK, IMPRESSION

GroupBy = Literal["reason", "app", "placement", "network", "country", "format", "day", "hour"]
GROUPS: tuple[str, ...] = ("reason", "app", "placement", "network", "country", "format", "day",
                           "hour")  # fmt: skip
_KEYS = {
    "app": "toString(app_id)",
    "placement": "toString(placement_id)",
    "network": "network",
    "country": "country",
    "format": "format",
    "day": "toString(toStartOfDay(hour, 'UTC'))",
    "hour": "toString(hour)",
}


@dataclass(frozen=True)
class IvtRow:
    key: str
    impressions: int  # all, valid and invalid
    invalid_impressions: int
    clicks: int
    invalid_clicks: int
    requests: int  # all, valid and invalid
    invalid_requests: int

    @property
    def invalid_impression_share(self) -> float:
        return _share(self.invalid_impressions, self.impressions)

    @property
    def invalid_request_share(self) -> float:
        return _share(self.invalid_requests, self.requests)


@dataclass(frozen=True)
class IvtReport:
    period: Period
    group_by: str
    totals: IvtRow
    rows: list[IvtRow]


def _share(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def _query(publisher_id: uuid.UUID, period: Period, filters: Filters, key: str) -> sql.Query:
    # The same conditions fit the three tables: each has these columns (for auctions,
    # `network` is the winner; blocked requests have none).
    where, params = sql.filters_where(publisher_id, filters, ivt=False)
    hours = "hour >= {start:DateTime('UTC')} AND hour < {end:DateTime('UTC')}"
    text = f"""\
SELECT key, sum(n_imp) AS impressions, sum(n_imp_ivt) AS invalid_impressions,
       sum(n_clk) AS clicks, sum(n_clk_ivt) AS invalid_clicks,
       sum(n_req) + sum(n_req_ivt) AS requests, sum(n_req_ivt) AS invalid_requests
FROM (
    SELECT {key} AS key,
           sumIf(events, event = '{IMPRESSION}') AS n_imp,
           sumIf(events, event = '{IMPRESSION}' AND ivt = 1) AS n_imp_ivt,
           sumIf(events, event = '{CLICK}') AS n_clk,
           sumIf(events, event = '{CLICK}' AND ivt = 1) AS n_clk_ivt,
           toUInt64(0) AS n_req, toUInt64(0) AS n_req_ivt
    FROM {sql.EVENTS_HOURLY}
    WHERE {where} AND {hours}
    GROUP BY key
    UNION ALL
    SELECT {key} AS key, 0, 0, 0, 0, sum(requests), 0
    FROM {sql.AUCTIONS_HOURLY}
    WHERE {where} AND {hours}
    GROUP BY key
    UNION ALL
    SELECT {key} AS key, 0, 0, 0, 0, 0, sum(records)
    FROM ivt_hourly
    WHERE {where} AND {hours} AND kind = 'auction' AND reason = ''
    GROUP BY key
)
GROUP BY key
ORDER BY invalid_impressions + invalid_requests DESC, key"""  # noqa: S608 - our own text only
    return sql.Query(text, {**params, "start": period.start, "end": period.end})


def _reasons_query(publisher_id: uuid.UUID, period: Period, filters: Filters) -> sql.Query:
    where, params = sql.filters_where(publisher_id, filters, ivt=False)
    text = f"""\
SELECT reason AS key,
       sumIf(records, kind = '{IMPRESSION}') AS invalid_impressions,
       sumIf(records, kind = '{CLICK}') AS invalid_clicks,
       sumIf(records, kind = 'auction') AS invalid_requests
FROM ivt_hourly
WHERE {where}
      AND hour >= {{start:DateTime('UTC')}} AND hour < {{end:DateTime('UTC')}}
      AND reason != ''
GROUP BY reason
ORDER BY invalid_impressions + invalid_requests DESC, reason"""  # noqa: S608 - our own text only
    return sql.Query(text, {**params, "start": period.start, "end": period.end})


def _row(row: dict[str, Any], totals: IvtRow | None = None) -> IvtRow:
    def n(name: str) -> int:
        return int(row.get(name, 0))

    if totals is not None:  # a reason: its invalid records against the period's totals
        return IvtRow(str(row["key"]), totals.impressions, n("invalid_impressions"),
                      totals.clicks, n("invalid_clicks"), totals.requests,
                      n("invalid_requests"))  # fmt: skip
    return IvtRow(str(row["key"]), n("impressions"), n("invalid_impressions"), n("clicks"),
                  n("invalid_clicks"), n("requests"), n("invalid_requests"))  # fmt: skip


async def report(
    analytics: Analytics,
    publisher_id: uuid.UUID,
    period: Period,
    filters: Filters,
    group_by: GroupBy,
) -> IvtReport:
    overall = await service.fetch(analytics, _query(publisher_id, period, filters, "''"))
    totals = _row({**overall[0], "key": ""}) if overall else IvtRow("", 0, 0, 0, 0, 0, 0)
    if group_by == "reason":
        found = await service.fetch(analytics, _reasons_query(publisher_id, period, filters))
        rows = [_row(row, totals) for row in found]
    else:
        found = await service.fetch(
            analytics, _query(publisher_id, period, filters, _KEYS[group_by])
        )
        rows = [_row(row) for row in found]
    return IvtReport(period, group_by, totals, rows)

"""The ClickHouse tables that hold a publisher's or a device's data, and the statements that
count, delete and export it. Table and column names are this module's constants; values are
always bound parameters.

Deletes are lightweight (`DELETE FROM`), which the ClickHouse of chDB 4.4 (26.9) and servers
since 23.3 run on every MergeTree engine used here, rollups included: rows are hidden at once
and dropped at the next merge."""

from __future__ import annotations

from typing import NamedTuple

from apex_mediation.tracking.event_names import CLICK, IMPRESSION


class Table(NamedTuple):
    name: str
    time_column: str  # what retention compares with its cutoff
    group: str  # the retention window that applies: raw_events | auction_logs | rollups


TABLES: tuple[Table, ...] = (
    Table("events", "received_at", "raw_events"),
    Table("sdk_telemetry", "received_at", "raw_events"),
    Table("auctions", "received_at", "auction_logs"),
    Table("bids", "received_at", "auction_logs"),
    # Receipts let a publisher audit its auctions as far back as its events go (no personal
    # data in them): they follow the raw events' window, not the auction log's.
    Table("auction_receipts", "issued_at", "raw_events"),
    Table("events_hourly", "hour", "rollups"),
    Table("auctions_hourly", "hour", "rollups"),
    Table("devices_daily", "day", "rollups"),
    Table("events_totals_hourly", "hour", "rollups"),
    Table("auctions_totals_hourly", "hour", "rollups"),
    Table("events_inventory_daily", "day", "rollups"),
    Table("auctions_inventory_daily", "day", "rollups"),
    Table("events_country_daily", "day", "rollups"),
    Table("auctions_country_daily", "day", "rollups"),
    Table("devices_publisher_daily", "day", "rollups"),
    Table("devices_app_country_daily", "day", "rollups"),
    Table("ivt_hourly", "hour", "rollups"),
)

# Tables holding a device key, and what a device's erasure deletes there.
DEVICE_TABLES: tuple[str, ...] = ("events",)


def count_publisher(table: Table) -> str:
    return f"SELECT count() AS n FROM {table.name} WHERE publisher_id = {{publisher_id:UUID}}"  # noqa: S608 - this module's names


def delete_publisher(table: Table) -> str:
    return f"DELETE FROM {table.name} WHERE publisher_id = {{publisher_id:UUID}}"  # noqa: S608 - this module's names


def _before(table: Table) -> str:
    # Date columns compare with a Date, the others with a DateTime (UTC sessions).
    if table.time_column == "day":
        return f"{table.time_column} < toDate({{cutoff:DateTime}})"
    return f"{table.time_column} < {{cutoff:DateTime}}"


def count_older(table: Table) -> str:
    return f"SELECT count() AS n FROM {table.name} WHERE {_before(table)}"  # noqa: S608 - this module's names


def delete_older(table: Table) -> str:
    return f"DELETE FROM {table.name} WHERE {_before(table)}"  # noqa: S608 - this module's names


def _device_filter(scoped: bool) -> str:
    tenant = "publisher_id = {publisher_id:UUID} AND " if scoped else ""
    return f"{tenant}device_key = {{device_key:String}}"


def count_device(table: str, *, scoped: bool) -> str:
    return f"SELECT count() AS n FROM {table} WHERE {_device_filter(scoped)}"  # noqa: S608 - this module's names


def delete_device(table: str, *, scoped: bool) -> str:
    return f"DELETE FROM {table} WHERE {_device_filter(scoped)}"  # noqa: S608 - this module's names


# The publisher's reporting per UTC day: events and revenue (integer micros: the sum of CPMs
# over a thousand), requests and fills. Test traffic is left out, invalid traffic kept apart.
DAILY_REPORT = f"""
SELECT day, ivt, sum(impressions) AS impressions, sum(clicks) AS clicks,
       intDiv(sum(cpm_sum), 1000) AS revenue_micros, sum(requests) AS requests,
       sum(fills) AS fills
FROM (
    SELECT toDate(hour, 'UTC') AS day, ivt,
           sumIf(events, event = '{IMPRESSION}') AS impressions,
           sumIf(events, event = '{CLICK}') AS clicks,
           sumIf(cpm_micros_sum, event = '{IMPRESSION}') AS cpm_sum,
           toUInt64(0) AS requests, toUInt64(0) AS fills
    FROM events_totals_hourly
    WHERE publisher_id = {{publisher_id:UUID}} AND test = 0
    GROUP BY day, ivt
    UNION ALL
    SELECT toDate(hour, 'UTC') AS day, toUInt8(0) AS ivt, toUInt64(0), toUInt64(0),
           toUInt64(0), sum(requests), sum(fills)
    FROM auctions_totals_hourly
    WHERE publisher_id = {{publisher_id:UUID}} AND test = 0
    GROUP BY day
)
GROUP BY day, ivt
ORDER BY day, ivt
"""  # noqa: S608 - only this module's constants are spliced in

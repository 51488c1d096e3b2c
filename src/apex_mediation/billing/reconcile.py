"""Network-reported revenue and its reconciliation with tracked revenue.

Publishers import what each network says it paid (CSV upload or API); reconciliation puts it
beside what Apex tracked (impressions and revenue from ClickHouse, test and invalid traffic
excluded) per network and UTC day, and keeps the difference for the console and the operator.
Amounts are integer micros; a CSV's dollars are parsed as decimals, never floats.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import audit
from apex_mediation.accounts.errors import InvalidInput
from apex_mediation.accounts.identity import Actor
from apex_mediation.auction.adapters.registry import get_adapter
from apex_mediation.db.models import NetworkRevenue, RevenueReconciliation
from apex_mediation.stores.analytics import Analytics
from apex_mediation.tracking.event_names import IMPRESSION

MAX_ROWS = 10_000
MAX_DAYS = 366
_TRACKED = f"""\
SELECT day, network,
       sumIf(events, event = '{IMPRESSION}') AS impressions,
       intDiv(sumIf(cpm_micros_sum, event = '{IMPRESSION}'), 1000) AS revenue_micros
FROM events_inventory_daily
WHERE publisher_id = {{publisher_id:UUID}} AND test = 0 AND ivt = 0 AND network != ''
      AND day >= {{start:Date}} AND day < {{end:Date}}
GROUP BY day, network"""  # noqa: S608 - only the event name constant is spliced in


@dataclass(frozen=True)
class ReportedRow:
    day: dt.date
    network: str
    revenue_micros: int
    impressions: int | None = None
    app_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Difference:
    network: str
    day: dt.date
    tracked_micros: int
    reported_micros: int | None
    tracked_impressions: int
    reported_impressions: int | None

    @property
    def difference_micros(self) -> int | None:
        return None if self.reported_micros is None else self.reported_micros - self.tracked_micros

    @property
    def difference_ppm(self) -> int | None:
        """The difference relative to tracked revenue, in millionths (None when not comparable)."""
        diff = self.difference_micros
        if diff is None or self.tracked_micros == 0:
            return None
        return diff * 1_000_000 // self.tracked_micros


def _micros_from_dollars(text: str, where: str) -> int:
    try:
        value = Decimal(text.strip())
    except InvalidOperation as exc:
        raise InvalidInput(f"{where}: revenue {text!r} is not a number", field="revenue") from exc
    micros = value * 1_000_000
    if micros != micros.to_integral_value() or not value.is_finite():
        raise InvalidInput(f"{where}: revenue has more than 6 decimals", field="revenue")
    return int(micros)


def check_row(row: ReportedRow, where: str) -> ReportedRow:
    if get_adapter(row.network) is None:
        raise InvalidInput(f"{where}: unknown network {row.network!r}", field="network")
    if row.revenue_micros < 0:
        raise InvalidInput(f"{where}: revenue must not be negative", field="revenue")
    if row.impressions is not None and row.impressions < 0:
        raise InvalidInput(f"{where}: impressions must not be negative", field="impressions")
    if row.day > dt.datetime.now(dt.UTC).date():
        raise InvalidInput(f"{where}: day {row.day} is in the future", field="day")
    return row


def parse_csv(text: str) -> list[ReportedRow]:
    """Rows of `day,network,revenue[,impressions][,app_id]` (revenue in dollars, e.g. 12.345678;
    or a `revenue_micros` column instead). Every problem names its line."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = {name.strip().lower() for name in reader.fieldnames or []}
    money = "revenue_micros" if "revenue_micros" in columns else "revenue"
    missing = {"day", "network", money} - columns
    if missing:
        raise InvalidInput(f"CSV header lacks {', '.join(sorted(missing))}", field="file")
    rows: list[ReportedRow] = []
    for number, raw in enumerate(reader, start=2):
        if number - 1 > MAX_ROWS:
            raise InvalidInput(f"CSV has more than {MAX_ROWS} rows", field="file")
        values = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        where = f"line {number}"
        try:
            day = dt.date.fromisoformat(values["day"])
        except ValueError as exc:
            raise InvalidInput(
                f"{where}: day {values['day']!r} is not YYYY-MM-DD", field="day"
            ) from exc
        if money == "revenue_micros":
            if not values[money].isdigit():
                raise InvalidInput(
                    f"{where}: revenue_micros must be a whole number", field="revenue"
                )
            revenue = int(values[money])
        else:
            revenue = _micros_from_dollars(values[money], where)
        impressions_text = values.get("impressions", "")
        if impressions_text and not impressions_text.isdigit():
            raise InvalidInput(f"{where}: impressions must be a whole number", field="impressions")
        app_text = values.get("app_id", "")
        try:
            app_id = uuid.UUID(app_text) if app_text else None
        except ValueError as exc:
            raise InvalidInput(f"{where}: app_id is not a UUID", field="app_id") from exc
        rows.append(
            check_row(
                ReportedRow(
                    day,
                    values["network"].lower(),
                    revenue,
                    int(impressions_text) if impressions_text else None,
                    app_id,
                ),
                where,
            )
        )
    return rows


async def import_rows(
    session: AsyncSession, actor: Actor, rows: list[ReportedRow], source: str
) -> int:
    """Store reported revenue (a row for the same network, day and app replaces the old one)."""
    publisher_id = actor.tenant()
    for row in rows:
        values = {
            "revenue_micros": row.revenue_micros,
            "impressions": row.impressions,
            "source": source,
            "imported_at": func.now(),
        }
        await session.execute(
            insert(NetworkRevenue)
            .values(
                publisher_id=publisher_id,
                network=row.network,
                day=row.day,
                app_id=row.app_id,
                **values,
            )
            .on_conflict_do_update(
                constraint="uq_network_revenue_publisher_id_network_day_app_id", set_=values
            )
        )
    await audit.record(
        session,
        actor,
        "billing.network_revenue_imported",
        "publisher",
        publisher_id,
        publisher_id=publisher_id,
        details={"rows": len(rows), "source": source},
    )
    return len(rows)


async def reconcile(
    session: AsyncSession,
    analytics: Analytics,
    publisher_id: uuid.UUID,
    start: dt.date,
    end: dt.date,
) -> list[Difference]:
    """Compare and store, per network and day in [start, end)."""
    if not start < end or (end - start).days > MAX_DAYS:
        raise InvalidInput(f"the period must be 1 to {MAX_DAYS} days", field="period")
    tracked = {
        (str(r["network"]), dt.date.fromisoformat(str(r["day"]))): r
        for r in await analytics.query(
            _TRACKED, {"publisher_id": publisher_id, "start": start, "end": end}
        )
    }
    reported_rows = await session.execute(
        select(
            NetworkRevenue.network,
            NetworkRevenue.day,
            func.sum(NetworkRevenue.revenue_micros),
            func.sum(NetworkRevenue.impressions),
        )
        .where(
            NetworkRevenue.publisher_id == publisher_id,
            NetworkRevenue.day >= start,
            NetworkRevenue.day < end,
        )
        .group_by(NetworkRevenue.network, NetworkRevenue.day)
    )
    reported = {(n, d): (int(r), None if i is None else int(i)) for n, d, r, i in reported_rows}
    differences = []
    for network, day in sorted(tracked.keys() | reported.keys(), key=lambda k: (k[1], k[0])):
        row = tracked.get((network, day), {})
        rep_micros, rep_impressions = reported.get((network, day), (None, None))
        diff = Difference(
            network,
            day,
            int(row.get("revenue_micros", 0)),
            rep_micros,
            int(row.get("impressions", 0)),
            rep_impressions,
        )
        values = {
            "tracked_micros": diff.tracked_micros,
            "reported_micros": diff.reported_micros,
            "tracked_impressions": diff.tracked_impressions,
            "reported_impressions": diff.reported_impressions,
            "computed_at": func.now(),
        }
        await session.execute(
            insert(RevenueReconciliation)
            .values(publisher_id=publisher_id, network=network, day=day, **values)
            .on_conflict_do_update(
                index_elements=[
                    RevenueReconciliation.publisher_id,
                    RevenueReconciliation.network,
                    RevenueReconciliation.day,
                ],
                set_=values,
            )
        )
        differences.append(diff)
    return differences

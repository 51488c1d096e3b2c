"""What a publisher can audit: auction receipts, the auction log export, SDK health.

Every query goes through `service.fetch` / `service.fetch_file`, so none runs without the
publisher filter. Receipts are listed newest first with a keyset cursor (issued_at, auction id),
so paging stays cheap and stable while new receipts arrive.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts.errors import InvalidInput
from apex_mediation.db.models import ConfigSigningKey
from apex_mediation.reporting import service
from apex_mediation.reporting.params import Period
from apex_mediation.reporting.sql import TENANT_FILTER, Query
from apex_mediation.stores.analytics import Analytics

__all__ = [
    "EXPORT_FORMATS",
    "ReceiptPage",
    "auction_log",
    "chain_pages",
    "receipt",
    "receipts",
    "sdk_health",
    "verify_keys",
]

ExportFormat = Literal["csv", "parquet"]
EXPORT_FORMATS: dict[str, tuple[str, str]] = {  # ours -> (ClickHouse format, media type)
    "csv": ("CSVWithNames", "text/csv; charset=utf-8"),
    "parquet": ("Parquet", "application/vnd.apache.parquet"),
}
RECEIPT_COLUMNS = (
    "placement_id, chain, seq, auction_id, issued_at, body, hash, prev_hash, key_id, signature"
)


@dataclass(frozen=True)
class ReceiptPage:
    rows: list[dict[str, Any]]
    next_cursor: str | None


def _cursor(row: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(f"{row['issued_at']}|{row['auction_id']}".encode()).decode()


def _parse_cursor(text: str) -> tuple[str, str]:
    try:
        issued_at, auction_id = base64.urlsafe_b64decode(text.encode()).decode().split("|", 1)
        datetime.fromisoformat(issued_at)
    except ValueError:
        raise InvalidInput("not a cursor this API returned", field="cursor") from None
    return issued_at, auction_id


async def receipts(
    analytics: Analytics,
    publisher_id: uuid.UUID,
    period: Period,
    placement_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
) -> ReceiptPage:
    where = [TENANT_FILTER, "issued_at >= {start:DateTime64(3)}", "issued_at < {end:DateTime64(3)}"]
    params: dict[str, object] = {
        "publisher_id": publisher_id,
        "start": period.start,
        "end": period.end,
        "limit": limit + 1,
    }
    if placement_id is not None:
        where.append("placement_id = {placement_id:UUID}")
        params["placement_id"] = placement_id
    if cursor is not None:
        issued_at, auction_id = _parse_cursor(cursor)
        where.append("(issued_at, auction_id) < ({cursor_at:DateTime64(3)}, {cursor_id:String})")
        params["cursor_at"] = datetime.fromisoformat(issued_at).replace(tzinfo=UTC)
        params["cursor_id"] = auction_id
    sql = (
        f"SELECT {RECEIPT_COLUMNS} FROM auction_receipts FINAL WHERE {' AND '.join(where)}"
        " ORDER BY issued_at DESC, auction_id DESC LIMIT {limit:UInt32}"
    )
    rows = await service.fetch(analytics, Query(sql, params))
    more = len(rows) > limit
    rows = rows[:limit]
    return ReceiptPage(rows, _cursor(rows[-1]) if more else None)


async def receipt(
    analytics: Analytics, publisher_id: uuid.UUID, auction_id: str
) -> dict[str, Any] | None:
    sql = (
        f"SELECT {RECEIPT_COLUMNS} FROM auction_receipts FINAL"
        f" WHERE {TENANT_FILTER} AND auction_id = {{auction_id:String}} LIMIT 1"
    )
    rows = await service.fetch(
        analytics, Query(sql, {"publisher_id": publisher_id, "auction_id": auction_id})
    )
    return rows[0] if rows else None


async def chain_pages(
    analytics: Analytics,
    publisher_id: uuid.UUID,
    placement_id: uuid.UUID,
    page_rows: int = 10_000,
) -> AsyncIterator[list[dict[str, Any]]]:
    """A placement's receipts in chain order, a page at a time (keyset on chain, seq)."""
    params: dict[str, object] = {
        "publisher_id": publisher_id,
        "placement_id": placement_id,
        "chain": "",
        "seq": 0,
        "limit": page_rows,
    }
    sql = (
        f"SELECT {RECEIPT_COLUMNS} FROM auction_receipts FINAL"
        f" WHERE {TENANT_FILTER} AND placement_id = {{placement_id:UUID}}"
        " AND (chain, seq) > ({chain:String}, {seq:UInt64})"
        " ORDER BY chain, seq LIMIT {limit:UInt32}"
    )
    while True:
        rows = await service.fetch(analytics, Query(sql, params))
        if rows:
            yield rows
        if len(rows) < page_rows:
            return
        params.update(chain=rows[-1]["chain"], seq=rows[-1]["seq"])


async def auction_log(
    analytics: Analytics,
    publisher_id: uuid.UUID,
    period: Period,
    placement_id: uuid.UUID | None,
    fmt: ExportFormat,
) -> bytes:
    """Every candidate of every auction in the period, with its outcome and loss reason, and
    the auction's floor and clearing price; one row per candidate."""
    where = [
        f"b.{TENANT_FILTER}",
        "b.received_at >= {start:DateTime64(3)}",
        "b.received_at < {end:DateTime64(3)}",
    ]
    params: dict[str, object] = {"publisher_id": publisher_id, "start": period.start}
    params["end"] = period.end
    if placement_id is not None:
        where.append("b.placement_id = {placement_id:UUID}")
        params["placement_id"] = placement_id
    sql = (
        "SELECT b.received_at AS received_at, b.auction_id AS auction_id,"
        " toString(b.app_id) AS app_id, toString(b.placement_id) AS placement_id,"
        " a.format AS format, a.platform AS platform, a.country AS country,"
        " a.auction_type AS auction_type, a.floor_micros AS floor_micros,"
        " b.network AS network, b.kind AS kind, b.outcome AS outcome, b.reason AS reason,"
        " b.latency_ms AS latency_ms, b.price_micros AS price_micros, b.bid_price AS bid_price,"
        " b.bid_currency AS bid_currency, b.rank AS rank, b.won AS won,"
        " a.clearing_price_micros AS clearing_price_micros, b.test AS test"
        " FROM bids AS b FINAL"
        " LEFT JOIN (SELECT auction_id, format, platform, country, auction_type, floor_micros,"
        " clearing_price_micros FROM auctions FINAL"
        f" WHERE {TENANT_FILTER} AND received_at >= {{start:DateTime64(3)}}"
        " AND received_at < {end:DateTime64(3)}) AS a ON a.auction_id = b.auction_id"
        f" WHERE {' AND '.join(where)}"
        " ORDER BY b.received_at, b.auction_id, b.rank"
    )
    format_name = EXPORT_FORMATS[fmt][0]
    return await service.fetch_file(analytics, Query(sql, params), format_name)


async def sdk_health(
    analytics: Analytics, publisher_id: uuid.UUID, period: Period
) -> list[dict[str, Any]]:
    """Per SDK platform and version: apps, auction requests, crash reports, crashes per
    thousand requests; newest versions first."""
    sql = (
        "SELECT platform, sdk_version, uniqExactMerge(apps) AS apps, sum(requests) AS requests,"
        " sum(crashes) AS crashes FROM ("
        " SELECT platform, sdk_version, uniqExactState(app_id) AS apps, count() AS requests,"
        " toUInt64(0) AS crashes FROM auctions"
        f" WHERE {TENANT_FILTER} AND received_at >= {{start:DateTime64(3)}}"
        " AND received_at < {end:DateTime64(3)} AND test = 0"
        " GROUP BY platform, sdk_version"
        " UNION ALL"
        " SELECT sdk_platform AS platform, sdk_version, uniqExactState(app_id) AS apps,"
        " toUInt64(0) AS requests, countIf(event = 'crash') AS crashes FROM sdk_telemetry FINAL"
        f" WHERE {TENANT_FILTER} AND received_at >= {{start:DateTime64(3)}}"
        " AND received_at < {end:DateTime64(3)}"
        " GROUP BY platform, sdk_version)"
        " GROUP BY platform, sdk_version ORDER BY platform, sdk_version DESC"
    )
    params: dict[str, object] = {"publisher_id": publisher_id}
    params.update(start=period.start, end=period.end)
    return await service.fetch(analytics, Query(sql, params))


async def verify_keys(session: AsyncSession) -> dict[str, Ed25519PublicKey]:
    """Every signing key's public half ever published, retired ones included: a receipt stays
    verifiable long after its key stopped signing."""
    rows = await session.execute(select(ConfigSigningKey.key_id, ConfigSigningKey.public_key_der))
    keys: dict[str, Ed25519PublicKey] = {}
    for key_id, der in rows:
        public = serialization.load_der_public_key(der)
        if isinstance(public, Ed25519PublicKey):
            keys[key_id] = public
    return keys

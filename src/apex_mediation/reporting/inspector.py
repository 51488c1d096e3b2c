"""The auction inspector's reads: one auction and its candidates, recent auctions, lookups by
request id, and the receipt before a given one in its chain.

Every query goes through `service.fetch`, so none runs without the publisher filter; another
publisher's auction id finds nothing, exactly like a missing one.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apex_mediation.accounts.errors import InvalidInput
from apex_mediation.reporting import service
from apex_mediation.reporting.sql import TENANT_FILTER, Query
from apex_mediation.reporting.transparency import RECEIPT_COLUMNS
from apex_mediation.stores.analytics import Analytics

__all__ = [
    "AuctionPage",
    "auction",
    "candidates",
    "find",
    "previous_receipt",
    "recent",
]

AUCTION_COLUMNS = (
    "auction_id, received_at, request_id, app_id, placement_id, format, platform, country,"
    " sdk_version,"
    " auction_type, floor_micros, tmax_ms, duration_ms, filled, winner_network, winner_kind,"
    " clearing_price_micros, candidates, no_fill_reason, test"
)
BID_COLUMNS = (
    "network, kind, account_id, outcome, reason, latency_ms, price_micros, bid_price,"
    " bid_currency, rank, won"
)


@dataclass(frozen=True)
class AuctionPage:
    rows: list[dict[str, Any]]
    next_cursor: str | None  # pass back as `before` for older auctions


def _cursor(row: dict[str, Any]) -> str:
    text = f"{row['received_at']}|{row['auction_id']}"
    return base64.urlsafe_b64encode(text.encode()).decode()


def _parse_cursor(text: str) -> tuple[datetime, str]:
    try:
        at, auction_id = base64.urlsafe_b64decode(text.encode()).decode().split("|", 1)
        moment = datetime.fromisoformat(at).replace(tzinfo=UTC)
    except ValueError:
        raise InvalidInput("not a position this page gave", field="before") from None
    return moment, auction_id


async def recent(
    analytics: Analytics,
    publisher_id: uuid.UUID,
    limit: int,
    placement_id: uuid.UUID | None = None,
    before: str | None = None,
) -> AuctionPage:
    """The publisher's auctions, newest first, a page at a time (keyset on time, id)."""
    where = [TENANT_FILTER]
    params: dict[str, object] = {"publisher_id": publisher_id, "limit": limit + 1}
    if placement_id is not None:
        where.append("placement_id = {placement_id:UUID}")
        params["placement_id"] = placement_id
    if before is not None:
        params["before_at"], params["before_id"] = _parse_cursor(before)
        where.append("(received_at, auction_id) < ({before_at:DateTime64(3)}, {before_id:String})")
    sql = (
        f"SELECT {AUCTION_COLUMNS} FROM auctions FINAL WHERE {' AND '.join(where)}"  # noqa: S608
        " ORDER BY received_at DESC, auction_id DESC LIMIT {limit:UInt32}"
    )
    rows = await service.fetch(analytics, Query(sql, params))
    more = len(rows) > limit
    rows = rows[:limit]
    return AuctionPage(rows, _cursor(rows[-1]) if more else None)


async def find(
    analytics: Analytics, publisher_id: uuid.UUID, key: str, limit: int = 50
) -> list[dict[str, Any]]:
    """Auctions whose auction id or SDK request id is `key`, newest first (request ids are the
    SDK's and need not be unique)."""
    sql = (
        f"SELECT {AUCTION_COLUMNS} FROM auctions FINAL WHERE {TENANT_FILTER}"  # noqa: S608
        " AND (auction_id = {key:String} OR request_id = {key:String})"
        " ORDER BY received_at DESC, auction_id DESC LIMIT {limit:UInt32}"
    )
    params: dict[str, object] = {"publisher_id": publisher_id, "key": key, "limit": limit}
    return await service.fetch(analytics, Query(sql, params))


async def auction(
    analytics: Analytics, publisher_id: uuid.UUID, auction_id: str
) -> dict[str, Any] | None:
    sql = (
        f"SELECT {AUCTION_COLUMNS} FROM auctions FINAL WHERE {TENANT_FILTER}"  # noqa: S608
        " AND auction_id = {auction_id:String} LIMIT 1"
    )
    params: dict[str, object] = {"publisher_id": publisher_id, "auction_id": auction_id}
    rows = await service.fetch(analytics, Query(sql, params))
    return rows[0] if rows else None


async def candidates(
    analytics: Analytics, publisher_id: uuid.UUID, auction_id: str
) -> list[dict[str, Any]]:
    """The auction's candidates: the ranked ones in rank order (the winner first), then the
    rest by network."""
    sql = (
        f"SELECT {BID_COLUMNS} FROM bids FINAL WHERE {TENANT_FILTER}"  # noqa: S608
        " AND auction_id = {auction_id:String}"
        " ORDER BY rank < 0, rank, network, outcome"
    )
    params: dict[str, object] = {"publisher_id": publisher_id, "auction_id": auction_id}
    return await service.fetch(analytics, Query(sql, params))


async def previous_receipt(
    analytics: Analytics, publisher_id: uuid.UUID, placement_id: str, chain: str, seq: int
) -> dict[str, Any] | None:
    """The receipt just before (`chain`, `seq`) in its placement's chain."""
    sql = (
        f"SELECT {RECEIPT_COLUMNS} FROM auction_receipts FINAL WHERE {TENANT_FILTER}"  # noqa: S608
        " AND placement_id = {placement_id:UUID} AND chain = {chain:String}"
        " AND seq = {seq:UInt64} LIMIT 1"
    )
    params: dict[str, object] = {
        "publisher_id": publisher_id,
        "placement_id": uuid.UUID(placement_id),
        "chain": chain,
        "seq": seq - 1,
    }
    rows = await service.fetch(analytics, Query(sql, params))
    return rows[0] if rows else None

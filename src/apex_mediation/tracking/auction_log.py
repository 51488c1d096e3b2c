"""The auction log: every auction, every candidate (the bid landscape) and the auction's
receipt into ClickHouse.

Records go into the durable ingest log without being awaited, so they never delay the response;
the shipper delivers them with the beacons, exactly once in effect.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from apex_mediation.auction.exchange import AuctionResult
from apex_mediation.tracking import receipts
from apex_mediation.tracking.ingest_log import IngestLog
from apex_mediation.tracking.receipts import ReceiptChains
from apex_mediation.tracking.shipper import encode


def rows(result: AuctionResult) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    at = dt.datetime.fromtimestamp(result.started_at, dt.UTC)
    request, placement, winner = result.request, result.placement, result.winner
    common = {
        "auction_id": result.auction_id,
        "received_at": at,
        "publisher_id": placement.publisher_id,
        "app_id": placement.app_id,
        "placement_id": placement.id,
        "test": int(result.test),
    }
    auction = {
        **common,
        "request_id": request.request_id,
        "format": placement.format,
        "platform": request.platform,
        "country": request.device.country or "",
        "sdk_version": request.sdk_version or "",
        "auction_type": placement.auction_type,
        "floor_micros": result.floor_micros,
        "tmax_ms": result.tmax_ms,
        "duration_ms": round(result.duration_ms, 3),
        "filled": int(winner is not None),
        "winner_network": winner.outcome.network if winner else "",
        "winner_kind": winner.outcome.kind if winner else "",
        "clearing_price_micros": winner.ecpm_micros if winner else 0,
        "candidates": len(result.outcomes),
        "no_fill_reason": result.no_fill_reason or "",
        # Invalid requests (blocked or only flagged) are left out of the publisher's figures.
        "ivt": int(result.ivt.invalid),
        "ivt_score": result.ivt.verdict.score_ppm // 1000,
        "ivt_reasons": list(result.ivt.verdict.reasons),
    }
    bids = [
        {
            **common,
            "network": o.network,
            "kind": o.kind,
            "account_id": o.account_id or "",
            "outcome": o.outcome,
            "reason": o.reason[:500],
            "latency_ms": round(o.latency_ms, 3) if o.latency_ms is not None else 0.0,
            "price_micros": max(o.price_micros or 0, 0),
            "bid_price": o.bid_price or "",
            "bid_currency": o.bid_currency or "",
            "rank": o.rank if o.rank is not None else -1,
            "won": int(o.rank == 0),
        }
        for o in result.outcomes
    ]
    return auction, bids


class AuctionLog:
    def __init__(self, ingest: IngestLog, chains: ReceiptChains) -> None:
        self._ingest = ingest
        self.chains = chains

    def record(self, result: AuctionResult) -> None:
        auction, bids = rows(result)
        self._ingest.submit(encode("auctions", auction))
        for bid in bids:
            self._ingest.submit(encode("bids", bid))
        self._ingest.submit(encode(receipts.TABLE, self.chains.issue(result)))

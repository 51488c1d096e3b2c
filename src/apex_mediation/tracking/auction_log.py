"""The auction log: every auction and every candidate into ClickHouse, without delaying the
response.

`record()` only appends to a bounded in-memory queue; a background task writes batches. This is
best effort by design for now: if the queue is full (ClickHouse far behind) the oldest records
are dropped and counted in `auction_log_dropped_total`. Beacons, which carry money, do not go
this way.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import deque
from typing import Any

from prometheus_client import Counter, Gauge

from apex_mediation.auction.exchange import AuctionResult
from apex_mediation.background import Periodic
from apex_mediation.stores.analytics import Analytics

dropped_total = Counter("auction_log_dropped_total", "Auction records dropped: queue full")
written_total = Counter("auction_log_written_total", "Auction records written", ["table"])
queue_depth = Gauge("auction_log_queue_depth", "Auction records waiting to be written")


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
    def __init__(
        self,
        analytics: Analytics,
        max_queue: int = 50_000,
        batch: int = 2000,
        interval_s: float = 0.5,
    ) -> None:
        self._analytics = analytics
        self._queue: deque[AuctionResult] = deque()
        self._max_queue = max_queue
        self._batch = batch
        self._loop = Periodic("auction log write", interval_s, self.flush)

    def record(self, result: AuctionResult) -> None:
        if len(self._queue) >= self._max_queue:
            self._queue.popleft()
            dropped_total.inc()
        self._queue.append(result)

    async def flush(self) -> int:
        written = 0
        while self._queue:
            take = [self._queue.popleft() for _ in range(min(self._batch, len(self._queue)))]
            auctions, bids = [], []
            for result in take:
                auction, candidates = rows(result)
                auctions.append(auction)
                bids.extend(candidates)
            try:
                await self._analytics.insert("auctions", auctions)
                if bids:
                    await self._analytics.insert("bids", bids)
            except Exception:
                # Put the batch back (oldest first) and let the next round try again.
                self._queue.extendleft(reversed(take))
                raise
            written_total.labels("auctions").inc(len(auctions))
            written_total.labels("bids").inc(len(bids))
            written += len(take)
        queue_depth.set(len(self._queue))
        return written

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        with contextlib.suppress(Exception):
            await self.flush()

"""The `/v1/auction` answer: one body carrying both the Android and the iOS fields (each SDK
ignores what it does not know)."""

from __future__ import annotations

from typing import Any

from apex_mediation.auction.exchange import AuctionResult
from apex_mediation.sdk.wire.android import winner_fields
from apex_mediation.sdk.wire.common import micros_to_cpm


def body(result: AuctionResult, ttl_s: int = 300) -> dict[str, Any]:
    winner = result.winner
    assert winner is not None  # no fill is a 204, never a body
    request_id = result.request.request_id
    return {
        # Android / Unity
        "request_id": request_id,
        "auction_id": result.auction_id,
        "winner": winner_fields(winner, request_id),
        "fallbacks": [winner_fields(entry, request_id) for entry in result.ranked[1:]],
        "no_fill": False,
        "ttl_seconds": ttl_s,
        "test": result.test,
        # iOS
        "ad_id": winner.outcome.bid.bid_id if winner.outcome.bid else result.auction_id,
        "network_name": winner.outcome.network,
        "creative_url": winner.tracking["creative"],
        "ecpm": micros_to_cpm(winner.ecpm_micros),
        "ttl": ttl_s,
        "metadata": {
            "auction_id": result.auction_id,
            "impression_url": winner.tracking["imp"],
            "click_url": winner.tracking["click"],
            "test": "1" if result.test else "0",
        },
    }

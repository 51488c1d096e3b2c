"""Privacy per bidder, test mode and the debug trace, notices, frequency caps, the auction log."""

from __future__ import annotations

import asyncio

import msgspec

from apex_mediation.auction import pacing
from apex_mediation.auction.breaker import Breakers
from apex_mediation.sdk.wire.android import AndroidAuction, to_canonical
from apex_mediation.services import Services
from tests.sdk.conftest import Market
from tests.sdk.test_mobile_auction import android_body


async def test_debug_trace_for_test_traffic_names_every_outcome(market: Market) -> None:
    placement = await market.placement(
        timeoutMs=250,
        bidding=[
            market.line("high"),
            market.line("never"),
            market.line("hang"),
            market.line("broken"),
        ],
    )
    response = await market.post("/v1/auction?debug=1", android_body(placement, test=True))
    assert response.status_code == 200
    candidates = response.json()["debug"]["candidates"]
    outcomes = sorted(c["outcome"] for c in candidates)
    assert outcomes == ["bid", "error", "no_bid", "timeout"]
    for candidate in candidates:
        assert candidate["reason"] or candidate["outcome"] == "bid"
    winner = next(c for c in candidates if c["rank"] == 0)
    assert winner["priceMicros"] == 3_000_000 and winner["latencyMs"] is not None


async def test_no_debug_trace_for_live_traffic(market: Market) -> None:
    placement = await market.placement(bidding=[market.line("high")])
    body = (await market.post("/v1/auction?debug=1", android_body(placement))).json()
    assert "debug" not in body
    assert body["test"] is False


async def test_test_mode_always_fills_with_the_test_creative(market: Market) -> None:
    placement = await market.placement(bidding=[market.line("never")])
    response = await market.post("/v1/auction", android_body(placement, test=True))
    assert response.status_code == 200
    body = response.json()
    assert body["test"] is True
    assert body["winner"]["adapter_name"] == "apex_test"
    assert 'data-apex-test="1"' in body["winner"]["ad_markup"]
    sent = market.bidders.stats["never"].last_request
    assert sent is not None and sent["test"] == 1  # bidders are told it is a test


async def test_gdpr_without_consent_blocks_bidders_not_in_the_vendor_list(market: Market) -> None:
    placement = await market.placement(bidding=[market.line("high")])
    body = android_body(placement, test=True, metadata={"gdpr_applies": "1", "gdpr_consent": ""})
    calls_before = market.bidders.stats["high"].requests
    response = await market.post("/v1/auction?debug=1", body)
    candidates = response.json()["debug"]["candidates"]
    blocked = [c for c in candidates if c["outcome"] == "blocked_privacy"]
    assert blocked and blocked[0]["privacy"]
    assert market.bidders.stats["high"].requests == calls_before  # never called


async def test_limit_ad_tracking_strips_ids_and_truncates_the_ip(market: Market) -> None:
    placement = await market.placement(bidding=[market.line("euro")])
    body = android_body(
        placement, user_info={"limit_ad_tracking": True, "advertising_id": "abc-123"}
    )
    assert (await market.post("/v1/auction", body)).status_code == 200
    sent = market.bidders.stats["euro"].last_request
    assert sent is not None
    assert "ifa" not in sent["device"]
    assert sent["device"]["ip"] == "203.0.113.0"


async def test_win_and_loss_notices_carry_the_substituted_price_and_loss_code(
    market: Market,
) -> None:
    placement = await market.placement(
        bidding=[market.line("high"), market.line("euro")], auctionType="second_price"
    )
    wins_before = len(market.bidders.stats["high"].wins)
    losses_before = len(market.bidders.stats["euro"].losses)
    assert (await market.post("/v1/auction", android_body(placement))).status_code == 200
    for _ in range(50):
        if (
            len(market.bidders.stats["euro"].losses) > losses_before
            and len(market.bidders.stats["high"].wins) > wins_before
        ):
            break
        await asyncio.sleep(0.02)
    assert market.bidders.stats["high"].wins[-1] == "2.12"
    assert market.bidders.stats["euro"].losses[-1] == "102"


async def test_frequency_cap_per_device(market: Market, services: Services) -> None:
    placement_id = await market.placement(bidding=[market.line("high")], fcapPerHour=1)
    body = android_body(placement_id)
    assert (await market.post("/v1/auction", body)).status_code == 200
    snapshot = market.app.state.auction.snapshots.current
    placement = snapshot.placements[placement_id]
    canonical = to_canonical(msgspec.convert(body, AndroidAuction), None)
    await pacing.record_impression(services.cache, placement, pacing.device_key(canonical))
    capped = await market.post("/v1/auction?debug=1", {**body, "test": True})
    assert capped.json()["winner"]["adapter_name"] == "apex_test"
    reasons = {c["outcome"] for c in capped.json()["debug"]["candidates"]}
    assert "capped" in reasons


async def test_auctions_and_bids_reach_clickhouse(market: Market, services: Services) -> None:
    placement = await market.placement(bidding=[market.line("high"), market.line("never")])
    response = await market.post("/v1/auction", android_body(placement))
    auction_id = response.json()["auction_id"]
    runtime = market.app.state.auction
    await runtime.ingest.sync()
    await runtime.shipper.drain()
    rows = await services.analytics.query(
        "SELECT filled, winner_network, clearing_price_micros FROM auctions "
        "WHERE auction_id = {id:String}",
        {"id": auction_id},
    )
    assert rows == [{"filled": 1, "winner_network": "openrtb", "clearing_price_micros": 3000000}]
    bids = await services.analytics.query(
        "SELECT outcome, won FROM bids WHERE auction_id = {id:String} ORDER BY outcome",
        {"id": auction_id},
    )
    assert bids == [{"outcome": "bid", "won": 1}, {"outcome": "no_bid", "won": 0}]


async def test_a_failing_bidder_opens_its_circuit(market: Market) -> None:
    placement = await market.placement(bidding=[market.line("broken"), market.line("high")])
    exchange = market.app.state.auction.exchange
    shared, exchange.breakers = exchange.breakers, Breakers(failure_threshold=3)
    calls = market.bidders.stats["broken"].requests
    outcomes = []
    for _ in range(5):
        body = (await market.post("/v1/auction?debug=1", android_body(placement, test=True))).json()
        outcomes.append(
            next(
                c["outcome"]
                for c in body["debug"]["candidates"]
                if c["outcome"] in ("error", "circuit_open")
            )
        )
    exchange.breakers = shared
    assert outcomes == ["error", "error", "error", "circuit_open", "circuit_open"]
    assert market.bidders.stats["broken"].requests - calls == 3  # no calls while open


async def test_a_management_key_of_the_publisher_gets_the_trace_of_live_traffic(
    market: Market,
) -> None:
    placement = await market.placement(bidding=[market.line("high")])
    mine = await market.post(
        "/v1/auction?debug=1",
        android_body(placement),
        headers={"Authorization": f"Bearer {market.tenant.key}"},
    )
    assert mine.json()["test"] is False
    assert mine.json()["debug"]["candidates"][0]["outcome"] == "bid"
    reporting = await market.tenant.create(
        "/api/v1/api-keys", {"name": "r", "scopes": ["reporting"]}
    )
    other = await market.post(
        "/v1/auction?debug=1",
        android_body(placement),
        headers={"Authorization": f"Bearer {reporting['key']}"},
    )
    assert "debug" not in other.json()

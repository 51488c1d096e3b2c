"""Invalid traffic end to end, through the public endpoints and the real stores: a blocked
auction calls no bidder; a flagged beacon is stored, marked invalid and left out of revenue;
the IVT report shows both; lists and per-publisher thresholds change the outcome."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx

from apex_mediation.ivt import store
from apex_mediation.services import Services
from tests.conftest import PHONE_BROWSER
from tests.sdk.conftest import Market
from tests.sdk.test_mobile_auction import android_body

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
DATACENTER_IP = "34.64.10.20"  # Google Cloud
HOME_IP = "86.12.34.56"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _client(market: Market, ip: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=market.app, client=(ip, 40_000))
    return httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"User-Agent": PHONE_BROWSER}
    )


async def _drain(market: Market) -> None:
    runtime = market.app.state.auction
    await runtime.ingest.sync()
    await runtime.shipper.drain()


async def _auction_row(services: Services, request_id: str) -> dict[str, Any]:
    rows = await services.analytics.query(
        "SELECT auction_id, ivt, ivt_score, ivt_reasons, no_fill_reason, filled "
        "FROM auctions WHERE request_id = {r:String}",
        {"r": request_id},
    )
    assert len(rows) == 1, rows
    return rows[0]


async def _report(market: Market, group_by: str = "reason") -> dict[str, Any]:
    response = await market.tenant.call(
        "GET", "/api/v1/reporting/ivt", params={"groupBy": group_by}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_declared_bot_is_blocked_before_any_bidder(
    market: Market, services: Services
) -> None:
    placement = await market.placement(bidding=[market.line("high")])
    calls_before = market.bidders.stats["high"].requests
    request_id = f"bot-{uuid.uuid4().hex[:8]}"
    async with _client(market, HOME_IP) as http:
        response = await http.post(
            "/v1/auction",
            params={"debug": "1"},
            json=android_body(placement, request_id=request_id),
            headers={"X-Api-Key": market.sdk_key, "User-Agent": GOOGLEBOT, **market.tenant.auth},
        )
    assert response.status_code == 204  # no fill
    assert market.bidders.stats["high"].requests == calls_before  # nobody was called
    await _drain(market)
    row = await _auction_row(services, request_id)
    assert (row["ivt"], row["no_fill_reason"], row["ivt_reasons"]) == (
        1,
        "blocked_ivt",
        ["declared_bot"],
    )
    assert row["ivt_score"] == 1000
    report = await _report(market)
    reasons = {r["key"]: r for r in report["data"]}
    assert reasons["declared_bot"]["invalidRequests"] == 1
    assert report["totals"]["invalidRequests"] == 1
    # Blocked requests are not requests in the publisher's figures.
    overview = await market.tenant.call("GET", "/api/v1/reporting/overview")
    assert overview.json()["requests"] == 0


async def test_a_beacon_from_a_data_centre_is_stored_flagged_and_not_revenue(
    market: Market, services: Services
) -> None:
    placement = await market.placement(bidding=[market.line("high")])
    async with _client(market, HOME_IP) as http:
        auction = await http.post(
            "/v1/auction", json=android_body(placement), headers={"X-Api-Key": market.sdk_key}
        )
    assert auction.status_code == 200, auction.text
    body = auction.json()
    async with _client(market, DATACENTER_IP) as http:
        beacon = await http.get(_path(body["winner"]["tracking"]["imp"]))
    assert beacon.status_code == 204  # accepted: an SDK cannot tell, and nothing is lost
    await _drain(market)
    rows = await services.analytics.query(
        "SELECT ivt, ivt_reasons, cpm_micros FROM events WHERE auction_id = {a:String}",
        {"a": body["auction_id"]},
    )
    assert rows == [{"ivt": 1, "ivt_reasons": ["datacenter_ip"], "cpm_micros": 3_000_000}]
    overview = (await market.tenant.call("GET", "/api/v1/reporting/overview")).json()
    assert (overview["impressions"], overview["revenueMicros"]) == (0, 0)
    assert overview["requests"] == 1 and overview["fills"] == 1  # the auction itself was valid
    report = await _report(market)
    assert {r["key"]: r["invalidImpressions"] for r in report["data"]} == {"datacenter_ip": 1}
    assert report["totals"]["invalidImpressionShare"] == 1.0
    by_placement = await _report(market, "placement")
    assert [(r["key"], r["invalidImpressions"]) for r in by_placement["data"]] == [(placement, 1)]


async def test_a_flagged_auction_runs_and_its_impression_is_invalid(
    market: Market, services: Services
) -> None:
    """A moderate signal (the address in Vietnam, the device set to Berlin) flags without
    blocking: the ad is served, and its events carry the auction's verdict in the token."""
    placement = await market.placement(bidding=[market.line("high")])
    request_id = f"geo-{uuid.uuid4().hex[:8]}"
    async with _client(market, HOME_IP) as http:
        auction = await http.post(
            "/v1/auction",
            json=android_body(placement, request_id=request_id),
            headers={"X-Api-Key": market.sdk_key, "CF-IPCountry": "VN"},
        )
        assert auction.status_code == 200
        await http.get(_path(auction.json()["winner"]["tracking"]["imp"]))
    await _drain(market)
    row = await _auction_row(services, request_id)
    assert (row["ivt"], row["filled"], row["ivt_reasons"]) == (1, 1, ["geo_mismatch"])
    events = await services.analytics.query(
        "SELECT ivt, ivt_reasons FROM events WHERE auction_id = {a:String}",
        {"a": row["auction_id"]},
    )
    assert events == [{"ivt": 1, "ivt_reasons": ["geo_mismatch"]}]


async def test_lists_and_thresholds_change_the_outcome(market: Market, services: Services) -> None:
    placement = await market.placement(bidding=[market.line("high")])
    publisher = uuid.UUID(market.tenant.publisher_id)
    runtime = market.app.state.auction

    async def auction(ip: str, **headers: str) -> httpx.Response:
        async with _client(market, ip) as http:
            return await http.post(
                "/v1/auction",
                json=android_body(placement),
                headers={"X-Api-Key": market.sdk_key, **headers},
            )

    # The publisher's own block-list blocks an address nothing else objects to.
    async with services.postgres.session() as session:
        entry = await store.add_entry(
            session, "test", kind="ip", value="86.99.1.2", action="block", publisher_id=publisher
        )
        await session.commit()
    assert await runtime.ivt.config.refresh()
    assert (await auction("86.99.1.2")).status_code == 204
    assert (await auction(HOME_IP)).status_code == 200
    # An allow-list entry (the publisher's QA device) wins over every signal.
    async with services.postgres.session() as session:
        await store.remove_entry(session, "test", entry.id)
        await store.add_entry(
            session, "test", kind="ip", value=DATACENTER_IP, action="allow", publisher_id=publisher
        )
        await session.commit()
    await runtime.ivt.config.refresh()
    assert (await auction(DATACENTER_IP, **{"User-Agent": GOOGLEBOT})).status_code == 200
    # Thresholds per publisher: with blocking at 1.0 only, a device-rate signal (0.9) serves.
    async with services.postgres.session() as session:
        await store.set_thresholds(session, "test", publisher, block=1.0, flag=0.95)
        await session.commit()
    await runtime.ivt.config.refresh()
    thresholds = runtime.ivt.config.current.thresholds_of(str(publisher))
    assert (thresholds.block_ppm, thresholds.flag_ppm) == (1_000_000, 950_000)
    async with services.postgres.session() as session:
        decisions = await session.execute(
            store.IvtDecision.__table__.select().where(store.IvtDecision.publisher_id == publisher)
        )
        actions = [row.action for row in decisions]
    assert actions == ["list.block", "list.removed", "list.allow", "thresholds.set"]

"""A publisher's own auction log as CSV or Parquet, and crash counts per SDK version."""

from __future__ import annotations

import csv
import io
import uuid

import pyarrow.parquet as pq

from tests.helpers import Tenant
from tests.sdk.conftest import Market
from tests.sdk.test_mobile_auction import android_body

LOG = "/api/v1/reporting/auction-log"


async def _settle(market: Market) -> None:
    runtime = market.app.state.auction
    await runtime.ingest.sync()
    await runtime.shipper.drain()


async def test_the_auction_log_has_every_candidate_and_why_it_lost(
    market: Market, other_tenant: Tenant
) -> None:
    placement = await market.placement(
        bidding=[market.line("high"), market.line("euro"), market.line("never")],
        auctionType="second_price",
    )
    auction_ids = set()
    for _ in range(2):
        response = await market.post("/v1/auction", android_body(placement))
        auction_ids.add(response.json()["auction_id"])
    await _settle(market)

    response = await market.tenant.call("GET", f"{LOG}?placementId={placement}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {r["auction_id"] for r in rows} == auction_ids
    assert len(rows) == 6  # three candidates per auction
    one = sorted((r for r in rows if r["auction_id"] == min(auction_ids)), key=lambda r: r["rank"])
    assert [(r["outcome"], r["price_micros"], r["rank"], r["won"]) for r in one] == [
        ("no_bid", "0", "-1", "0"),
        ("bid", "3000000", "0", "1"),
        ("bid", "2110000", "1", "0"),
    ]
    assert {r["clearing_price_micros"] for r in one} == {"2120000"}
    assert {r["floor_micros"] for r in one} == {"500000"}
    assert {r["auction_type"] for r in one} == {"second_price"}

    parquet = await market.tenant.call("GET", f"{LOG}?placementId={placement}&format=parquet")
    assert parquet.status_code == 200
    assert parquet.headers["content-type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.num_rows == 6
    assert (
        sorted(table.column("price_micros").to_pylist()) == [0, 0, 2110000, 2110000] + [3000000] * 2
    )

    # Nobody else's auctions, and no SQL reaches the store without the publisher filter.
    theirs = await other_tenant.call("GET", f"{LOG}?placementId={placement}")
    assert theirs.status_code == 200
    assert theirs.text.strip().count("\n") == 0  # the header only


async def test_the_auction_log_refuses_what_it_cannot_export(market: Market) -> None:
    too_long = await market.tenant.call("GET", f"{LOG}?startDate=2026-01-01&endDate=2026-03-01")
    assert too_long.status_code == 400
    assert "31 days" in too_long.json()["error"]["message"]
    bad_format = await market.tenant.call("GET", f"{LOG}?format=xlsx")
    assert bad_format.status_code == 400
    assert "format" in bad_format.text


async def test_crashes_per_sdk_version(market: Market) -> None:
    placement = await market.placement(bidding=[market.line("high")])
    old, new = f"5.0.{uuid.uuid4().hex[:4]}", f"5.1.{uuid.uuid4().hex[:4]}"
    for version, requests, crashes in ((old, 4, 2), (new, 2, 0)):
        for _ in range(requests):
            await market.post("/v1/auction", android_body(placement, sdk_version=version))
        events = [{"eventId": f"{version}-{i}", "event": "crash"} for i in range(crashes)]
        events.append({"eventId": f"{version}-init", "event": "init"})
        batch = {"sdk": {"platform": "android", "version": version}, "events": events}
        assert (await market.post("/v1/telemetry", batch)).status_code == 204
    await _settle(market)
    response = await market.tenant.call("GET", "/api/v1/reporting/sdk-versions")
    assert response.status_code == 200, response.text
    rows = {r["sdkVersion"]: r for r in response.json()["data"]}
    assert rows[old] == {
        "platform": "android",
        "sdkVersion": old,
        "apps": 1,
        "requests": 4,
        "crashes": 2,
        "crashesPerThousand": 500.0,
    }
    assert rows[new]["crashes"] == 0 and rows[new]["requests"] == 2

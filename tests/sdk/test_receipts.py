"""Auction receipts: one per auction, hash-chained per placement, signed; verifiable from the
API's own output, by the verification endpoint and by `apex verify-receipts`, which all find
an altered or a removed receipt."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from typer.testing import CliRunner

from apex_mediation.cli import app as cli
from apex_mediation.services import Services
from apex_mediation.tracking import receipts
from tests.conftest import TEST_SECRET
from tests.helpers import Tenant
from tests.sdk.conftest import Market
from tests.sdk.test_mobile_auction import android_body


async def _auctions(market: Market, placement: str, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        response = await market.post("/v1/auction", android_body(placement))
        assert response.status_code in (200, 204), response.text
        ids.append(response.json()["auction_id"] if response.status_code == 200 else "")
    runtime = market.app.state.auction
    await runtime.ingest.sync()
    await runtime.shipper.drain()
    return ids


async def _receipts(tenant: Tenant, placement: str) -> list[dict[str, Any]]:
    response = await tenant.call(
        "GET", f"/api/v1/transparency/auctions?placementId={placement}&limit=500"
    )
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def _verification(tenant: Tenant, placement: str) -> dict[str, Any]:
    response = await tenant.call("GET", f"/api/v1/transparency/placements/{placement}/verification")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_a_receipt_per_auction_chained_and_signed(market: Market) -> None:
    placement = await market.placement(
        bidding=[market.line("high"), market.line("euro"), market.line("never")],
        auctionType="second_price",
        floorCpmMicros=200_000,
    )
    ids = await _auctions(market, placement, 3)
    found = await _receipts(market.tenant, placement)
    assert [r["auctionId"] for r in found] == ids[::-1]  # newest first
    chain = sorted(found, key=lambda r: r["seq"])
    assert [r["seq"] for r in chain] == [1, 2, 3]
    assert chain[0]["prevHash"] == receipts.GENESIS
    assert [r["prevHash"] for r in chain[1:]] == [r["hash"] for r in chain[:-1]]

    # Checked here with nothing but the published public key, not the server's verifier.
    async with market.make_client() as http:
        keys = (await http.get("/v1/config/keys")).json()  # key id -> SPKI, base64
    for receipt in chain:
        assert hashlib.sha256(receipt["body"].encode()).hexdigest() == receipt["hash"]
        public = serialization.load_der_public_key(base64.b64decode(keys[receipt["keyId"]]))
        assert isinstance(public, Ed25519PublicKey)
        public.verify(base64.b64decode(receipt["signature"]), bytes.fromhex(receipt["hash"]))

    body = chain[0]["receipt"]
    # The floor in force: the placement's 0.20, raised by the SDK's floor_cpm of 0.50.
    assert body["placementId"] == placement and body["floorMicros"] == 500_000
    assert body["winner"] == "openrtb" and body["auctionType"] == "second_price"
    outcomes = {(c["outcome"], c["priceMicros"], c["rank"]) for c in body["candidates"]}
    assert outcomes == {("bid", 3_000_000, 0), ("bid", 2_110_000, 1), ("no_bid", None, None)}
    # Second price: the runner-up (2.11 after EUR conversion) plus one cent.
    assert body["clearingPriceMicros"] == 2_120_000
    assert json.loads(chain[0]["body"]) == body

    one = await market.tenant.call("GET", f"/api/v1/transparency/auctions/{ids[1]}")
    assert one.status_code == 200 and one.json()["seq"] == 2
    assert (await _verification(market.tenant, placement))["ok"] is True


async def test_receipts_are_the_publishers_own(market: Market, other_tenant: Tenant) -> None:
    placement = await market.placement(bidding=[market.line("high")])
    [auction_id] = await _auctions(market, placement, 1)
    theirs = await other_tenant.call("GET", f"/api/v1/transparency/auctions/{auction_id}")
    assert theirs.status_code == 404
    assert await _receipts(other_tenant, placement) == []
    missing = await market.tenant.call("GET", "/api/v1/transparency/auctions/no-such-auction")
    assert missing.status_code == 404
    assert "no-such-auction" in missing.json()["error"]["message"]


async def test_pages_follow_the_cursor(market: Market) -> None:
    placement = await market.placement(bidding=[market.line("high")])
    ids = await _auctions(market, placement, 5)
    seen: list[str] = []
    cursor = ""
    for _ in range(5):
        url = f"/api/v1/transparency/auctions?placementId={placement}&limit=2{cursor}"
        page = (await market.tenant.call("GET", url)).json()
        seen += [r["auctionId"] for r in page["data"]]
        if page["nextCursor"] is None:
            break
        cursor = f"&cursor={page['nextCursor']}"
    assert seen == ids[::-1]
    bad = await market.tenant.call(
        "GET", f"/api/v1/transparency/auctions?placementId={placement}&cursor=garbage"
    )
    assert bad.status_code == 400 and "cursor" in bad.text


def _verify_cli(services: Services, tmp_path: Path, placement: str) -> tuple[int, str]:
    """`apex verify-receipts` in this process, on the test's own stores: its chDB directory is
    the test session's (one engine path per process), reached through a data dir linking it."""
    data = tmp_path / "var"
    data.mkdir(exist_ok=True)
    link = data / "clickhouse"
    if not link.exists():
        link.symlink_to(Path(services.analytics.path))  # type: ignore[attr-defined]
    env = {
        "APEX_ENV": "test",
        "APEX_DATA_DIR": str(data),
        "APEX_SECRET_KEY": TEST_SECRET,
        "DATABASE_URL": services.settings.database_url.get_secret_value(),  # type: ignore[union-attr]
        "APEX_CLICKHOUSE_DATABASE": services.analytics.database,
    }
    result = CliRunner().invoke(
        cli, ["verify-receipts", "--placement", placement], env=env, terminal_width=200
    )
    return result.exit_code, result.output


async def test_tampering_is_found_by_the_endpoint_and_the_cli(
    market: Market, services: Services, tmp_path: Path
) -> None:
    placement = await market.placement(bidding=[market.line("high"), market.line("euro")])
    ids = await _auctions(market, placement, 4)
    code, output = await asyncio.to_thread(_verify_cli, services, tmp_path, placement)
    assert code == 0, output
    assert "4 receipts checked" in output

    # An altered price: the body no longer matches its signature once the hash is redone.
    [row] = await services.analytics.query(
        "SELECT * FROM auction_receipts FINAL WHERE auction_id = {a:String}", {"a": ids[1]}
    )
    forged = json.loads(row["body"])
    forged["clearingPriceMicros"] = 1
    row["body"] = receipts.canonical(forged)
    row["hash"] = receipts.digest(row["body"])
    await services.analytics.insert("auction_receipts", [row])
    verdict = await _verification(market.tenant, placement)
    assert verdict["ok"] is False
    assert verdict["firstBreak"]["seq"] == 2
    assert verdict["firstBreak"]["problem"] == "signature does not verify"
    code, output = await asyncio.to_thread(_verify_cli, services, tmp_path, placement)
    assert code == 1
    assert "seq 2" in output and "signature does not verify" in output

    # A removed receipt: the chain shows the gap where it was.
    await services.analytics.command(
        "ALTER TABLE auction_receipts DELETE WHERE auction_id IN ({a:String}, {b:String})"
        " SETTINGS mutations_sync = 1",
        {"a": ids[1], "b": ids[2]},
    )
    verdict = await _verification(market.tenant, placement)
    assert verdict["firstBreak"]["problem"] == "receipts 2..3 are missing"
    assert verdict["firstBreak"]["seq"] == 4


async def test_a_restart_continues_each_chain(market: Market, services: Services) -> None:
    placement = await market.placement(bidding=[market.line("high")])
    await _auctions(market, placement, 2)
    runtime = market.app.state.auction
    chain = runtime.auction_log.chains.chain
    assert chain == receipts.chain_id(runtime.ingest.directory)  # not a fallback chain
    # What a new process does at start: heads read back from the store, not from memory.
    runtime.auction_log.chains = receipts.ReceiptChains(chain, lambda: None)
    await runtime.resume(services.analytics, services.cache)
    await _auctions(market, placement, 1)
    verdict = await _verification(market.tenant, placement)
    assert verdict == {
        "placementId": placement,
        "receipts": 3,
        "chains": 1,
        "ok": True,
        "firstBreak": None,
    }


def test_a_receipt_signed_by_an_unknown_key_is_a_break() -> None:
    row = {
        "chain": "c1",
        "seq": 1,
        "auction_id": "a1",
        "prev_hash": receipts.GENESIS,
        "key_id": "",
        "signature": "",
    }
    text = receipts.canonical({"chain": "c1", "seq": 1, "prevHash": receipts.GENESIS})
    row |= {"body": text, "hash": receipts.digest(text)}
    verdict = receipts.verify([row], {})
    assert verdict.first_break is not None
    assert verdict.first_break.problem.startswith("body's auctionId")
    text = receipts.canonical(
        {"chain": "c1", "seq": 1, "prevHash": receipts.GENESIS, "auctionId": "a1"}
    )
    row |= {"body": text, "hash": receipts.digest(text)}
    broken = receipts.verify([row], {}).first_break
    assert broken is not None and broken.problem == "unsigned or signed by an unknown key (none)"


@pytest.mark.parametrize("field", ["hash", "body"])
def test_a_receipt_whose_hash_does_not_match_is_a_break(field: str) -> None:
    text = receipts.canonical({"auctionId": "a1", "chain": "c1", "prevHash": "0", "seq": 1})
    row = {"chain": "c1", "seq": 1, "auction_id": "a1", "prev_hash": "0", "key_id": ""}
    row |= {"body": text, "hash": receipts.digest(text), "signature": ""}
    row[field] = row[field] + "x"
    broken = receipts.verify([row], {}).first_break
    assert broken is not None and broken.problem == "hash does not match the body"

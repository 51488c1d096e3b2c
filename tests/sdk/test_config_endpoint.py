"""`GET /v1/config/{appId}` and `/v1/config/keys`, verified with an independent Ed25519."""

from __future__ import annotations

import base64
import json

from cryptography.hazmat.primitives.serialization import load_der_public_key
from nacl.signing import VerifyKey

from apex_mediation.sdk.config_document import canonical_json
from tests.sdk.conftest import Market


async def _config(market: Market, etag: str | None = None) -> tuple[int, dict[str, str], bytes]:
    headers = {"X-Api-Key": market.sdk_key}
    if etag:
        headers["If-None-Match"] = etag
    async with market.make_client() as http:
        response = await http.get(f"/v1/config/{market.app_id}", headers=headers)
    return response.status_code, dict(response.headers), response.content


async def test_config_verifies_as_the_android_sdk_verifies_it(market: Market) -> None:
    await market.placement(
        bidding=[market.line("high")],
        waterfall=[
            {
                "network": "admob",
                "priority": 3,
                "ecpmMicros": 1,
                "params": {"ad_unit_id": "ca-app-pub-3940256099942544/1033173712"},
            }
        ],
    )
    status, headers, raw = await _config(market)
    assert status == 200
    body = json.loads(raw)
    async with market.make_client() as http:
        keys = (await http.get("/v1/config/keys")).json()
    spki = base64.b64decode(keys[body["keyId"]])
    raw_key = load_der_public_key(spki).public_bytes_raw()  # type: ignore[union-attr]
    verifier = VerifyKey(raw_key)
    signed = json.dumps(
        {"config_id": body["configId"], "version": body["version"], "timestamp": body["timestamp"]},
        separators=(",", ":"),
    ).encode()
    verifier.verify(signed, base64.b64decode(body["signature"]))
    unsigned = {k: v for k, v in body.items() if k not in ("signature", "payloadSignature")}
    verifier.verify(canonical_json(unsigned), base64.b64decode(body["payloadSignature"]))
    placement = next(iter(body["placements"].values()))
    assert placement["adType"] == "INTERSTITIAL"
    assert set(placement["enabledNetworks"]) == {"admob", "openrtb"}
    assert body["adapters"]["openrtb"]["supportsS2S"] is True
    assert headers["etag"]


async def test_etag_304_and_version_bump_on_change(market: Market) -> None:
    await market.placement()
    _, headers, raw = await _config(market)
    first = json.loads(raw)
    status, _, _ = await _config(market, headers["etag"])
    assert status == 304
    again_status, again_headers, _ = await _config(market)
    assert again_status == 200 and again_headers["etag"] == headers["etag"]
    await market.placement("banner", floorCpmMicros=250_000)
    status, changed_headers, changed = await _config(market, headers["etag"])
    assert status == 200
    assert changed_headers["etag"] != headers["etag"]
    assert json.loads(changed)["version"] == first["version"] + 1


async def test_config_needs_the_apps_own_key(market: Market) -> None:
    async with market.make_client() as http:
        other = await http.get(
            f"/v1/config/{market.web_app_id}", headers={"X-Api-Key": market.sdk_key}
        )
        none = await http.get(f"/v1/config/{market.app_id}")
    assert other.status_code == 401 and other.json()["error"]["code"] == 2001
    assert none.status_code == 401

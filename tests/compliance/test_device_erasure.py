"""End-user erasure by advertising id or install id: a publisher erases its own rows of the
device (events in ClickHouse, its IVT list entries, frequency caps and behaviour windows in the
cache), an operator erases the device everywhere; each with a record and a receipt."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from apex_mediation.accounts.publishers import create_publisher
from apex_mediation.auction import pacing
from apex_mediation.auction.pacing import hash_device
from apex_mediation.db.models import IvtListEntry, PrivacyRequest
from apex_mediation.demo.bidders import DemoBidders
from apex_mediation.services import Services
from tests.helpers import Tenant
from tests.reporting.data import DAY, event
from tests.sdk.test_mobile_auction import android_body

AD_ID = "38400000-8CF0-11BD-B23E-10B96E40000D"


async def _events(services: Services, device: str, publisher: str | None = None) -> int:
    sql = "SELECT count() AS n FROM events WHERE device_key = {d:String}"
    params: dict[str, object] = {"d": device}
    if publisher:
        sql += " AND publisher_id = {p:UUID}"
        params["p"] = publisher
    rows = await services.analytics.query(sql, params)
    return int(rows[0]["n"])


async def _seed(services: Services, device: str, *publishers: str) -> None:
    for publisher in publishers:
        ids = {"app_id": uuid.uuid4(), "placement_id": uuid.uuid4()}
        await services.analytics.insert(
            "events",
            [event(uuid.UUID(publisher), at=DAY, device_key=device, **ids) for _ in range(3)]
            + [event(uuid.UUID(publisher), at=DAY, device_key="e" * 24, **ids)],
        )


async def test_a_publisher_erases_its_own_rows_of_a_device(
    tenant: Tenant, other_tenant: Tenant, services: Services
) -> None:
    device = hash_device(AD_ID.lower())  # as an SDK that prints it in lower case sent it
    await _seed(services, device, tenant.publisher_id, other_tenant.publisher_id)
    async with services.postgres.session() as session:
        session.add(IvtListEntry(publisher_id=uuid.UUID(tenant.publisher_id), kind="device",
                                 value=device, action="block"))  # fmt: skip
        await session.commit()
    app = await tenant.android_app()
    placement = await tenant.create(
        "/api/v1/placements",
        {"name": "capped", "appId": app["id"], "format": "interstitial", "config": {}},
    )
    day = int(time.time() // pacing.DAY_S)
    cap_key = f"fcap:{placement['id']}:{device}:d{day}"
    await services.cache.incr(cap_key, ttl_s=3600)
    await services.cache.set(f"ivt:sus:{device}", b"device_rate", 600)

    erased = await tenant.call(
        "POST", "/api/v1/privacy/device-erasures", json={"advertisingId": AD_ID}
    )
    assert erased.status_code == 200, erased.text
    body = erased.json()
    assert body["kind"] == "device_erasure" and body["status"] == "completed"
    receipt = body["receipt"]
    assert receipt["scope"] == tenant.publisher_id
    assert receipt["removed"]["clickhouse"] == {"events": 3}
    assert receipt["removed"]["postgres"] == {"ivt_list_entries": 1}
    assert receipt["removed"]["cache"]["entries"] == 2
    assert AD_ID not in erased.text and AD_ID.lower() not in erased.text
    assert await _events(services, device, tenant.publisher_id) == 0
    assert await _events(services, "e" * 24, tenant.publisher_id) == 1  # another device
    assert await _events(services, device, other_tenant.publisher_id) == 3
    assert await services.cache.get(f"ivt:sus:{device}") is None
    assert await services.cache.get(cap_key) is None
    async with services.postgres.session() as session:
        record = await session.get(PrivacyRequest, uuid.UUID(body["id"]))
        assert record is not None and record.subject in receipt["device_keys"]
        assert device in receipt["device_keys"]


async def test_the_operator_erases_a_device_everywhere(
    tenant: Tenant,
    other_tenant: Tenant,
    services: Services,
    make_client: Callable[[], httpx.AsyncClient],
) -> None:
    install_id = f"install-{secrets.token_hex(8)}"
    device = hash_device(install_id)
    await _seed(services, device, tenant.publisher_id, other_tenant.publisher_id)
    refused = await tenant.session_call(
        "POST", "/api/v1/privacy/operator/device-erasures", json={"installId": install_id}
    )
    assert refused.status_code == 403
    email, password = f"operator-{secrets.token_hex(4)}@example.com", "operator-pass-" + "7" * 8
    async with services.postgres.session() as session:
        await create_publisher(
            session, name="Ops", owner_email=email, owner_password=password,
            is_platform_operator=True,
        )  # fmt: skip
        await session.commit()
    async with make_client() as http:
        me = await http.post("/api/v1/auth/login", json={"email": email, "password": password})
        erased = await http.post(
            "/api/v1/privacy/operator/device-erasures",
            json={"installId": install_id},
            headers={"X-CSRF-Token": me.json()["csrfToken"]},
        )
    assert erased.status_code == 200, erased.text
    assert erased.json()["receipt"]["scope"] == "all publishers"
    assert erased.json()["receipt"]["removed"]["clickhouse"] == {"events": 6}
    assert await _events(services, device) == 0
    async with services.postgres.session() as session:
        recorded = await session.scalar(
            select(func.count()).select_from(PrivacyRequest).where(
                PrivacyRequest.kind == "device_erasure", PrivacyRequest.subject == device
            )
        )  # fmt: skip
    assert recorded == 1


async def test_bad_requests_name_what_is_wrong(tenant: Tenant) -> None:
    cases = [
        ({}, "advertisingId or installId"),
        ({"advertisingId": "a", "installId": "b"}, "exactly one"),
        ({"advertisingId": ""}, "advertisingId"),
        ({"advertisingId": "x" * 201}, "advertisingId"),
        ({"installId": 42}, "installId"),
        ({"deviceId": "x"}, "deviceId"),
        ({"installId": "\ud800"}, "installId"),  # a lone surrogate: not text to hash
    ]
    for body, named in cases:
        response = await tenant.call(
            "POST",
            "/api/v1/privacy/device-erasures",
            content=json.dumps(body),  # ASCII-escaped, as a client may send a lone surrogate
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 400, (body, response.text)
        assert named in response.json()["error"]["message"], (body, response.text)


async def test_events_still_in_the_ingest_log_are_erased_too(
    tenant: Tenant,
    services: Services,
    app: FastAPI,
    bidders: DemoBidders,
    make_client: Callable[[], httpx.AsyncClient],
) -> None:
    """A beacon acknowledged a moment before the erasure is on disk, not yet in ClickHouse:
    the erasure ships it first, so it cannot arrive after the delete."""
    android = await tenant.android_app()
    key = await tenant.create(
        "/api/v1/api-keys", {"name": "sdk", "scopes": ["sdk"], "appId": android["id"]}
    )
    line = {"network": "openrtb", "params": {"endpoint": bidders.endpoint("high")}}
    placement = await tenant.create(
        "/api/v1/placements",
        {"name": "p", "appId": android["id"], "format": "interstitial",
         "config": {"bidding": [line]}},
    )  # fmt: skip
    await app.state.auction.snapshots.refresh()
    ad_id = str(uuid.uuid4())
    body = android_body(placement["id"])
    body["user_info"] = {"limit_ad_tracking": False, "advertising_id": ad_id}
    async with make_client() as http:
        answer = await http.post("/v1/auction", json=body, headers={"X-Api-Key": key["key"]})
        imp = urlsplit(answer.json()["winner"]["tracking"]["imp"])
        assert (await http.get(f"{imp.path}?{imp.query}")).status_code == 204
    erased = await tenant.call(
        "POST", "/api/v1/privacy/device-erasures", json={"advertisingId": ad_id}
    )
    assert erased.json()["receipt"]["removed"]["clickhouse"] == {"events": 1}
    await app.state.auction.shipper.drain()
    assert await _events(services, hash_device(ad_id)) == 0

"""The data export: owners only, built by the `privacy_requests` job (queued on procrastinate
when asked for, run here in process), downloaded through a signed link that a changed byte or
an expiry refuses, holding the account's data and none of its secrets."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import text

from apex_mediation.compliance import links
from apex_mediation.jobs.runner import run_job
from apex_mediation.jobs.worker import QUEUE, make_app
from apex_mediation.services import Services
from tests.helpers import PASSWORD, Tenant
from tests.reporting.data import DAY, auction, event

CREDENTIAL = "sk-live-export-never-0123456789"


async def _seed(tenant: Tenant, services: Services) -> dict[str, str]:
    app = await tenant.android_app()
    placement = await tenant.create(
        "/api/v1/placements",
        {"name": "inter", "appId": app["id"], "format": "interstitial", "config": {}},
    )
    network = await tenant.create(
        "/api/v1/network-accounts",
        {
            "network": "openrtb",
            "name": "main",
            "credentials": {"auth_token": CREDENTIAL, "auth_header": "X-Key"},
        },
    )
    publisher_id = uuid.UUID(tenant.publisher_id)
    app_id, placement_id = uuid.UUID(app["id"]), uuid.UUID(placement["id"])
    await services.analytics.insert(
        "events",
        [
            event(publisher_id, at=DAY, app_id=app_id, placement_id=placement_id,
                  cpm_micros=2_000_000)
            for _ in range(3)
        ],
    )  # fmt: skip
    await services.analytics.insert(
        "auctions",
        [auction(publisher_id, at=DAY, app_id=app_id, placement_id=placement_id, winner="x")],
    )
    return {"app": app["id"], "placement": placement["id"], "network": network["id"]}


def _relative(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def _export(tenant: Tenant, services: Services) -> tuple[str, dict[str, object]]:
    asked = await tenant.session_call("POST", "/api/v1/privacy/exports")
    assert asked.status_code == 202, asked.text
    assert asked.json()["status"] == "pending" and asked.json()["downloadUrl"] is None
    request_id = asked.json()["id"]
    run = await run_job(services, "privacy_requests", trigger="test")
    assert run.outcome == "ok", run.error
    status = await tenant.session_call("GET", f"/api/v1/privacy/requests/{request_id}")
    assert status.status_code == 200
    return request_id, status.json()


async def test_owner_exports_everything_but_secrets(tenant: Tenant, services: Services) -> None:
    ids = await _seed(tenant, services)
    _, status = await _export(tenant, services)
    assert status["status"] == "completed" and status["completedAt"] is not None
    assert status["requestedBy"].startswith("user:")
    receipt = status["receipt"]
    assert receipt["counts"]["apps"] == 1 and receipt["counts"]["network_accounts"] == 1
    assert len(receipt["sha256"]) == 64

    download = await tenant.http.get(_relative(str(status["downloadUrl"])))
    assert download.status_code == 200, download.text
    assert download.headers["content-type"] == "application/zip"
    assert hashlib.sha256(download.content).hexdigest() == receipt["sha256"]
    async with services.postgres.session() as session:
        downloads = await session.scalar(
            text(
                "SELECT count(*) FROM audit_logs WHERE action = 'privacy.export_downloaded' "
                "AND publisher_id = CAST(:p AS uuid)"
            ),
            {"p": tenant.publisher_id},
        )
    assert downloads == 1
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    names = set(archive.namelist())
    for dataset in ("publisher", "members", "apps", "placements", "network_accounts",
                    "api_keys", "invoices", "invoice_lines", "usage", "audit_log",
                    "reporting_daily"):  # fmt: skip
        assert {f"{dataset}.json", f"{dataset}.csv"} <= names
    shown = ("members", "apps", "network_accounts", "api_keys", "audit_log", "reporting_daily")
    data = {name: json.loads(archive.read(f"{name}.json")) for name in shown}
    assert data["members"][0]["email"] == tenant.email
    assert [a["id"] for a in data["apps"]] == [ids["app"]]
    assert data["network_accounts"][0]["id"] == ids["network"]
    assert {k["name"] for k in data["api_keys"]} == {"tests"}
    assert any(e["action"] == "privacy.export_requested" for e in data["audit_log"])
    day = [r for r in data["reporting_daily"] if r["day"] == DAY.date().isoformat()]
    assert day == [
        {"day": DAY.date().isoformat(), "ivt": 0, "impressions": 3, "clicks": 0,
         "revenue_micros": 6000, "requests": 1, "fills": 1}
    ]  # fmt: skip

    everything = b"".join(archive.read(name) for name in names)
    async with services.postgres.session() as session:
        secrets_stored = (
            await session.execute(
                text(
                    "SELECT u.password_hash, k.key_hash FROM users u, api_keys k "
                    "WHERE u.email = :email AND k.publisher_id = CAST(:p AS uuid)"
                ),
                {"email": tenant.email, "p": tenant.publisher_id},
            )
        ).first()
    assert secrets_stored is not None
    for secret in (CREDENTIAL, tenant.key, PASSWORD, *secrets_stored):
        assert secret.encode() not in everything
    for column in (b"password_hash", b"credentials_encrypted", b"key_hash", b"token_hash"):
        assert column not in everything


async def test_a_tampered_or_expired_link_is_refused(
    tenant: Tenant,
    other_tenant: Tenant,
    services: Services,
    make_client: Callable[[], httpx.AsyncClient],
) -> None:
    request_id, status = await _export(tenant, services)
    url = urlsplit(str(status["downloadUrl"]))
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    base = url.path

    async with make_client() as anonymous:
        ok = await anonymous.get(base, params=query)
        assert ok.status_code == 200  # the link alone is the credential
        flipped = query["signature"][:-1] + ("0" if query["signature"][-1] != "0" else "1")
        tampered = await anonymous.get(base, params={**query, "signature": flipped})
        longer = await anonymous.get(base, params={**query, "expires": int(query["expires"]) + 1})
        other = uuid.uuid4()
        moved = await anonymous.get(f"/api/v1/privacy/exports/{other}/download", params=query)
        past = int(time.time()) - 1
        expired_sig = links.sign(services.settings.secret, "", uuid.UUID(request_id), past)
        expired = await anonymous.get(_relative(expired_sig))
        garbage = await anonymous.get(base, params={"expires": "soon", "signature": "x"})
        accented = await anonymous.get(base, params={**query, "signature": "é" * 64})
        missing = await anonymous.get(base)
    assert [r.status_code for r in (tampered, longer, moved, accented)] == [403] * 4
    assert "signature" in tampered.json()["error"]["message"]
    assert expired.status_code == 410 and "expired" in expired.json()["error"]["message"]
    assert garbage.status_code == 400 and "expires" in garbage.json()["error"]["message"]
    assert missing.status_code == 400

    # Another publisher neither sees the request nor gets a link for it.
    assert (
        await other_tenant.session_call("GET", f"/api/v1/privacy/requests/{request_id}")
    ).status_code == 404


async def test_only_owners_export(tenant: Tenant, services: Services) -> None:
    by_key = await tenant.call("POST", "/api/v1/privacy/exports")  # a key acts as admin
    assert by_key.status_code == 403 and "owner" in by_key.json()["error"]["message"]
    listed = await tenant.call("GET", "/api/v1/privacy/requests")
    assert listed.status_code == 403


async def test_an_export_past_its_link_expiry_is_gone(tenant: Tenant, services: Services) -> None:
    request_id, _ = await _export(tenant, services)
    async with services.postgres.session() as session:
        await session.execute(
            text("UPDATE privacy_requests SET expires_at = now() - interval '1 second' "
                 "WHERE id = CAST(:id AS uuid)"),
            {"id": request_id},
        )  # fmt: skip
        await session.commit()
    # A link signed for later than the record allows still finds nothing to serve.
    later = int((dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).timestamp())
    link = links.sign(services.settings.secret, "", uuid.UUID(request_id), later)
    gone = await tenant.http.get(_relative(link))
    assert gone.status_code == 410
    refreshed = await tenant.session_call("GET", f"/api/v1/privacy/requests/{request_id}")
    assert refreshed.json()["downloadUrl"] is None


async def test_an_export_left_running_by_a_stopped_process_is_built_again(
    tenant: Tenant, services: Services
) -> None:
    asked = await tenant.session_call("POST", "/api/v1/privacy/exports")
    request_id = asked.json()["id"]
    async with services.postgres.session() as session:
        await session.execute(
            text("UPDATE privacy_requests SET status = 'running', "
                 "started_at = now() - interval '2 hours' WHERE id = CAST(:id AS uuid)"),
            {"id": request_id},
        )  # fmt: skip
        await session.commit()
    run = await run_job(services, "privacy_requests", trigger="test")
    assert run.counts is not None and run.counts["requeued"] == 1
    status = await tenant.session_call("GET", f"/api/v1/privacy/requests/{request_id}")
    assert status.json()["status"] == "completed"


async def test_the_worker_builds_a_deferred_export(tenant: Tenant, services: Services) -> None:
    """Asking defers the job on the procrastinate queue; a worker serving only that job
    builds the export (the queue is drained here, so no other test's worker meets it)."""
    asked = await tenant.session_call("POST", "/api/v1/privacy/exports")
    assert asked.status_code == 202
    async with services.postgres.session() as session:
        queued = await session.scalar(
            text(
                "SELECT count(*) FROM procrastinate.procrastinate_jobs "
                "WHERE task_name = 'apex.jobs.privacy_requests' AND status = 'todo'"
            )
        )
    assert queued == 1
    worker = make_app(services, ["privacy_requests"])
    async with worker.open_async():
        await asyncio.wait_for(
            worker.run_worker_async(queues=[QUEUE], wait=False, install_signal_handlers=False),
            timeout=30,
        )
    status = await tenant.session_call("GET", f"/api/v1/privacy/requests/{asked.json()['id']}")
    assert status.json()["status"] == "completed" and status.json()["downloadUrl"]

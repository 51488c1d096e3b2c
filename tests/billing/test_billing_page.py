"""The billing page and the reconciliation path: the console shows the trial, the month so far
and its projected fee; network-reported revenue goes in by CSV upload or API and comes back beside
tracked revenue per network and day; bad files are refused naming the line; only an operator
runs the platform-wide reconciliation."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Callable

import httpx

from apex_mediation.accounts.publishers import create_publisher
from apex_mediation.services import Services
from tests.helpers import Tenant
from tests.reporting.data import event

YESTERDAY = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
NOON = dt.datetime.combine(YESTERDAY, dt.time(12), tzinfo=dt.UTC)


async def _tracked(services: Services, tenant: Tenant, dollars: int) -> None:
    publisher_id = uuid.UUID(tenant.publisher_id)
    await services.analytics.insert(
        "events",
        [
            event(
                publisher_id,
                at=NOON,
                app_id=uuid.uuid4(),
                placement_id=uuid.uuid4(),
                network="unity",
                cpm_micros=dollars * 1_000_000 * 1000,
            )
        ],
    )


async def test_the_page_shows_the_trial_and_the_month(tenant: Tenant) -> None:
    page = await tenant.http.get("/billing")
    assert page.status_code == 200
    assert "Free trial" in page.text and "days left" in page.text
    assert "Projected fee" in page.text and "starter" in page.text
    assert "No invoices yet" in page.text
    summary = (await tenant.call("GET", "/api/v1/billing/summary")).json()
    assert summary["plan"] == "trial" and summary["trialActive"] is True
    assert summary["trialDaysLeft"] in (13, 14)
    assert [line["band"] for line in summary["projected"]["lines"]] == [
        "starter",
        "growth",
        "scale",
        "enterprise",
    ]


async def test_csv_upload_is_reconciled_with_tracked_revenue(
    tenant: Tenant, services: Services
) -> None:
    await _tracked(services, tenant, 120)
    csv = f"day,network,revenue,impressions\n{YESTERDAY},unity,123.456789,1\n"
    uploaded = await tenant.http.post(
        "/billing/network-revenue",
        data={"csrf_token": tenant.csrf},
        files={"file": ("unity.csv", csv.encode(), "text/csv")},
    )
    assert uploaded.status_code == 200, uploaded.text
    assert "Imported 1 rows" in uploaded.text
    assert "$123.46" in uploaded.text and "$120.00" in uploaded.text
    rows = await tenant.call(
        "GET",
        "/api/v1/billing/reconciliation",
        params={"startDate": str(YESTERDAY), "endDate": str(YESTERDAY)},
    )
    [row] = rows.json()
    assert row == {
        "network": "unity",
        "day": str(YESTERDAY),
        "trackedMicros": 120_000_000,
        "reportedMicros": 123_456_789,
        "differenceMicros": 3_456_789,
        "differencePpm": 28_806,
        "trackedImpressions": 1,
        "reportedImpressions": 1,
    }
    # The API import replaces the same network and day.
    imported = await tenant.call(
        "POST",
        "/api/v1/billing/network-revenue",
        json={"rows": [{"day": str(YESTERDAY), "network": "unity", "revenueMicros": 120_000_000}]},
    )
    assert imported.json() == {"imported": 1}
    again = await tenant.call(
        "GET",
        "/api/v1/billing/reconciliation",
        params={"startDate": str(YESTERDAY), "endDate": str(YESTERDAY)},
    )
    assert again.json()[0]["differenceMicros"] == 0


async def test_bad_network_revenue_is_refused_naming_what_is_wrong(tenant: Tenant) -> None:
    for csv, problem in (
        ("day,network\n", "CSV header lacks revenue"),
        (f"day,network,revenue\n{YESTERDAY},nosuchnet,1\n", "line 2: unknown network"),
        ("day,network,revenue\n2026-13-01,unity,1\n", "line 2: day"),
        (f"day,network,revenue\n{YESTERDAY},unity,1.0000001\n", "more than 6 decimals"),
        (f"day,network,revenue\n{YESTERDAY},unity,-5\n", "must not be negative"),
        (f"day,network,revenue\n{YESTERDAY},unity,abc\n", "is not a number"),
    ):
        response = await tenant.call(
            "POST",
            "/api/v1/billing/network-revenue/csv",
            content=csv.encode(),
            headers={"Content-Type": "text/csv"},
        )
        assert response.status_code == 400, (csv, response.text)
        assert problem in response.json()["error"]["message"], response.text
    floats = await tenant.call(
        "POST",
        "/api/v1/billing/network-revenue",
        json={"rows": [{"day": str(YESTERDAY), "network": "unity", "revenueMicros": 1.5}]},
    )
    assert floats.status_code == 400


async def test_only_an_operator_reconciles_the_platform(
    tenant: Tenant, services: Services, make_client: Callable[[], httpx.AsyncClient]
) -> None:
    body = {
        "startDate": str(YESTERDAY),
        "endDate": str(YESTERDAY),
        "publisherId": tenant.publisher_id,
    }
    refused = await tenant.call("POST", "/api/v1/billing/reconcile", json=body)
    assert refused.status_code == 403
    await _tracked(services, tenant, 50)
    email = f"operator-{secrets.token_hex(4)}@example.com"
    async with services.postgres.session() as session:
        await create_publisher(
            session,
            name="Ops",
            owner_email=email,
            owner_password="operator-password-1234",
            is_platform_operator=True,
        )
        await session.commit()
    async with make_client() as http:
        me = await http.post(
            "/api/v1/auth/login", json={"email": email, "password": "operator-password-1234"}
        )
        done = await http.post(
            "/api/v1/billing/reconcile", json=body, headers={"X-CSRF-Token": me.json()["csrfToken"]}
        )
    assert done.status_code == 200, done.text
    assert done.json()["publishers"] == 1 and done.json()["rows"] == 1
    usage = await tenant.call("GET", "/api/v1/billing/summary")
    assert usage.status_code == 200


async def test_api_calls_are_counted_in_the_days_usage(tenant: Tenant, services: Services) -> None:
    from apex_mediation.billing.usage import record_range

    for _ in range(3):
        assert (await tenant.call("GET", "/api/v1/billing/invoices")).status_code == 200
    today = dt.datetime.now(dt.UTC).date()
    async with services.postgres.session() as session:
        [day] = await record_range(
            session,
            services.analytics,
            services.cache,
            uuid.UUID(tenant.publisher_id),
            today,
            today + dt.timedelta(days=1),
        )
        await session.rollback()
    assert day.api_calls >= 3  # the key's calls (the fixture's own set-up calls come on top)

"""The reporting API end to end: real tables, a signed-up publisher, exact numbers."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from apex_mediation.reporting import service
from apex_mediation.services import Services
from tests.helpers import Tenant
from tests.reporting.data import DAY, NEXT_DAY, Seeded, auction, event, seed

BASE = "/api/v1/reporting"
TWO_DAYS = {"startDate": DAY.date().isoformat(), "endDate": NEXT_DAY.date().isoformat()}
ZERO = {
    "revenue": 0.0,
    "revenueMicros": 0,
    "impressions": 0,
    "clicks": 0,
    "videoCompletes": 0,
    "rewards": 0,
    "fills": 0,
    "ecpm": 0.0,
    "ecpmMicros": 0,
    "ctr": 0.0,
    "showRate": 0.0,
    "requests": 0,
    "fillRate": 0.0,
}


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def get(tenant: Tenant, path: str, **query: Any) -> dict[str, Any]:
    response = await tenant.call("GET", f"{BASE}{path}", params=query)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def seeded(services: Services, tenant: Tenant, other_tenant: Tenant) -> Seeded:
    """The tenant's data set, and the same again for another publisher that must never show."""
    await seed(services.analytics, other_tenant.publisher_id)
    return await seed(services.analytics, tenant.publisher_id)


async def test_overview_totals_exclude_test_and_invalid_traffic_and_other_publishers(
    tenant: Tenant, seeded: Seeded
) -> None:
    body = await get(tenant, "/overview", **TWO_DAYS)
    assert body == {
        "revenue": 0.0105,
        "revenueMicros": 10_500,
        "impressions": 4,
        "clicks": 1,
        "videoCompletes": 1,
        "rewards": 1,
        "fills": 4,
        "ecpm": 2.625,
        "ecpmMicros": 2_625_000,
        "ctr": 0.25,
        "showRate": 1.0,
        "requests": 7,
        "fillRate": 0.571429,
        "startDate": iso(DAY),
        "endDate": iso(NEXT_DAY + timedelta(days=1)),
        "dau": 1.5,  # (2 devices + 1 device) / 2 days
        "arpdau": 0.0035,
        "arpdauMicros": 3_500,  # 10_500 micros / 3 device-days
    }


async def test_overview_filters(tenant: Tenant, seeded: Seeded) -> None:
    async def overview(**filters: str) -> dict[str, Any]:
        return await get(tenant, "/overview", **TWO_DAYS, **filters)

    applovin = await overview(network="applovin")
    assert (applovin["impressions"], applovin["revenueMicros"]) == (1, 1_500)
    assert (applovin["requests"], applovin["fills"], applovin["dau"]) == (1, 1, 1.0)
    germany = await overview(country="de")  # codes are matched upper-case
    assert (germany["impressions"], germany["rewards"], germany["requests"]) == (1, 1, 1)
    app2 = await overview(appId=str(seeded.app2))
    assert (app2["impressions"], app2["revenueMicros"], app2["requests"], app2["fills"]) == (
        1,
        4_000,
        2,
        1,
    )
    placement1 = await overview(placementId=str(seeded.placement1))
    assert (placement1["impressions"], placement1["requests"]) == (3, 5)
    rewarded = await overview(format="rewarded")
    assert (rewarded["impressions"], rewarded["arpdauMicros"]) == (1, 4_000)
    nothing = await overview(appId=str(seeded.app2), country="DE")
    assert {key: nothing[key] for key in ZERO} == ZERO
    assert nothing["dau"] == 0.0


async def test_overview_of_part_of_a_day_has_no_dau(tenant: Tenant, seeded: Seeded) -> None:
    body = await get(
        tenant,
        "/overview",
        startDate=iso(DAY + timedelta(hours=10)),
        endDate=iso(DAY + timedelta(hours=11)),
    )
    assert (body["impressions"], body["revenueMicros"], body["requests"]) == (2, 5_000, 4)
    assert body["dau"] is body["arpdau"] is body["arpdauMicros"] is None


async def test_timeseries_by_day_and_by_hour(tenant: Tenant, seeded: Seeded) -> None:
    days = await get(tenant, "/timeseries", **TWO_DAYS)
    assert days["granularity"] == "day"
    assert [
        (p["timestamp"], p["impressions"], p["revenueMicros"], p["requests"], p["fills"])
        for p in days["data"]
    ] == [(iso(DAY), 3, 6_500, 5, 3), (iso(NEXT_DAY), 1, 4_000, 2, 1)]

    hours = await get(
        tenant,
        "/timeseries",
        granularity="hour",
        startDate=DAY.date().isoformat(),
        endDate=DAY.date().isoformat(),
    )
    assert len(hours["data"]) == 24  # every hour, empty ones as zeros
    by_hour = {p["timestamp"]: p for p in hours["data"]}
    ten, eleven = by_hour[iso(DAY + timedelta(hours=10))], by_hour[iso(DAY + timedelta(hours=11))]
    assert (ten["impressions"], ten["clicks"], ten["ecpmMicros"], ten["fillRate"]) == (
        2,
        1,
        2_500_000,
        0.5,
    )
    assert (eleven["videoCompletes"], eleven["rewards"], eleven["showRate"]) == (1, 1, 1.0)
    assert {k: by_hour[iso(DAY)][k] for k in ZERO} == ZERO


async def test_adapters(tenant: Tenant, seeded: Seeded) -> None:
    body = await get(tenant, "/adapters", **TWO_DAYS)
    assert body["data"] == [
        {
            "network": "admob",
            "revenue": 0.009,
            "revenueMicros": 9_000,
            "impressions": 3,
            "clicks": 1,
            "videoCompletes": 0,
            "rewards": 0,
            "fills": 3,
            "ecpm": 3.0,
            "ecpmMicros": 3_000_000,  # 9_000_001 / 3 rounded
            "ctr": 0.333333,
            "showRate": 1.0,
        },
        {
            "network": "applovin",
            "revenue": 0.0015,
            "revenueMicros": 1_500,
            "impressions": 1,
            "clicks": 0,
            "videoCompletes": 1,
            "rewards": 1,
            "fills": 1,
            "ecpm": 1.5,
            "ecpmMicros": 1_500_000,
            "ctr": 0.0,
            "showRate": 1.0,
        },
    ]


async def test_countries_and_top_apps_rank_by_revenue_within_the_limit(
    tenant: Tenant, seeded: Seeded
) -> None:
    countries = await get(tenant, "/countries", **TWO_DAYS)
    assert [
        (c["country"], c["revenueMicros"], c["impressions"], c["requests"], c["fillRate"])
        for c in countries["data"]
    ] == [("US", 9_000, 3, 6, 0.5), ("DE", 1_500, 1, 1, 1.0)]
    top = await get(tenant, "/countries", **TWO_DAYS, limit=1)
    assert [c["country"] for c in top["data"]] == ["US"]

    apps = await get(tenant, "/top-apps", **TWO_DAYS)
    assert [
        (a["appId"], a["revenueMicros"], a["impressions"], a["requests"], a["fills"])
        for a in apps["data"]
    ] == [(str(seeded.app1), 6_500, 3, 5, 3), (str(seeded.app2), 4_000, 1, 2, 1)]
    assert len((await get(tenant, "/top-apps", **TWO_DAYS, limit=1))["data"]) == 1


async def test_another_publisher_sees_only_its_own_numbers(
    tenant: Tenant, other_tenant: Tenant, services: Services
) -> None:
    mine = await seed(services.analytics, tenant.publisher_id)
    theirs = await get(other_tenant, "/overview", **TWO_DAYS)
    assert {key: theirs[key] for key in ZERO} == ZERO
    # Its filters cannot reach into another publisher's apps either.
    foreign = await get(other_tenant, "/top-apps", **TWO_DAYS, appId=str(mine.app1))
    assert foreign["data"] == []
    for path in ("/timeseries", "/adapters", "/countries", "/top-apps", "/realtime"):
        body = await get(other_tenant, path, **TWO_DAYS)
        assert all(row["impressions"] == 0 for row in body["data"]), path


async def test_realtime_shows_an_impression_seconds_after_it_is_written(
    tenant: Tenant, services: Services
) -> None:
    ids = {"app_id": tenant.publisher_id, "placement_id": tenant.publisher_id}
    now = datetime.now(UTC)
    impression = event(
        tenant.publisher_id,
        at=now - timedelta(seconds=2),
        **ids,
        cpm_micros=1_234_000,
        device_key="d1",
    )
    await services.analytics.insert(
        "events",
        [
            impression,
            event(tenant.publisher_id, at=now, **ids, cpm_micros=5_000_000, test=1),
            event(tenant.publisher_id, at=now, **ids, cpm_micros=5_000_000, ivt=1),
            event(tenant.publisher_id, at=now - timedelta(minutes=61), **ids, cpm_micros=7_000),
        ],
    )
    await services.analytics.insert("events", [impression])  # redelivered in another batch
    await services.analytics.insert(
        "auctions",
        [
            auction(
                tenant.publisher_id,
                at=now - timedelta(seconds=3),
                **{"app_id": tenant.publisher_id, "placement_id": tenant.publisher_id},
                winner="admob",
            )
        ],
    )
    body = await get(tenant, "/realtime")
    assert (body["impressions"], body["revenueMicros"], body["ecpmMicros"]) == (1, 1_234, 1_234_000)
    assert (body["requests"], body["fills"]) == (1, 1)
    assert len(body["data"]) == 60
    assert datetime.fromisoformat(body["endDate"]) - datetime.fromisoformat(
        body["startDate"]
    ) == timedelta(hours=1)
    minute = iso(impression["received_at"].replace(second=0, microsecond=0))
    assert [p["timestamp"] for p in body["data"] if p["impressions"]] == [minute]
    # The test impression is counted apart (the console's realtime tile shows it as such).
    publisher = uuid.UUID(tenant.publisher_id)
    assert await service.realtime_test_impressions(services.analytics, publisher) == 1


async def test_csv_export(tenant: Tenant, seeded: Seeded) -> None:
    response = await tenant.call(
        "GET", f"{BASE}/export.csv", params={"report": "adapters", **TWO_DAYS}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="apex-adapters-{DAY:%Y%m%d}T0000Z-'
        f'{NEXT_DAY + timedelta(days=1):%Y%m%d}T0000Z.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["network"], r["revenue"], r["revenueMicros"], r["ctr"]) for r in rows] == [
        ("admob", "0.009", "9000", "0.333333"),
        ("applovin", "0.0015", "1500", "0.0"),
    ]

    async def export(**query: str) -> list[dict[str, str]]:
        response = await tenant.call("GET", f"{BASE}/export.csv", params={**TWO_DAYS, **query})
        assert response.status_code == 200, response.text
        return list(csv.DictReader(io.StringIO(response.text)))

    [overview] = await export(report="overview")
    assert (overview["revenue"], overview["fillRate"], overview["dau"]) == (
        "0.0105",
        "0.571429",
        "1.5",
    )
    assert overview["startDate"] == iso(DAY)
    assert [r["impressions"] for r in await export(report="timeseries")] == ["3", "1"]
    assert [r["country"] for r in await export(report="countries", limit="1")] == ["US"]
    assert [r["appId"] for r in await export(report="top-apps")] == [
        str(seeded.app1),
        str(seeded.app2),
    ]
    assert len(await export(report="realtime")) == 60
    empty = await tenant.call(
        "GET", f"{BASE}/export.csv", params={"report": "countries", "country": "FR"}
    )
    assert empty.text.splitlines()[0].startswith("revenue,revenueMicros,")
    assert len(empty.text.splitlines()) == 1


async def test_a_console_session_reads_reports(tenant: Tenant, seeded: Seeded) -> None:
    response = await tenant.session_call("GET", f"{BASE}/overview", params=TWO_DAYS)
    assert response.status_code == 200, response.text
    assert response.json()["revenueMicros"] == 10_500


async def test_a_key_without_the_reporting_scope_is_refused(tenant: Tenant) -> None:
    issued = await tenant.session_call(
        "POST", "/api/v1/api-keys", json={"name": "ops", "scopes": ["management"]}
    )
    assert issued.status_code == 201, issued.text
    headers = {"Authorization": f"Bearer {issued.json()['key']}"}
    response = await tenant.http.get(f"{BASE}/overview", headers=headers)
    assert response.status_code == 403
    assert "reporting" in response.json()["error"]["message"]


async def test_reports_need_authentication(tenant: Tenant) -> None:
    tenant.http.cookies.clear()
    for path in ("/overview", "/realtime", "/export.csv?report=overview"):
        response = await tenant.http.get(f"{BASE}{path}")
        assert response.status_code == 401, path


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/overview", {"startDate": "2026-02-30"}, "startDate"),
        ("/overview", {"endDate": "tomorrow"}, "endDate"),
        ("/overview", {"startDate": "2026-03-01T10:15:00Z"}, "startDate"),
        ("/overview", {"startDate": "2026-03-02", "endDate": "2026-03-01"}, "endDate"),
        ("/overview", {"startDate": "2025-01-01", "endDate": "2026-03-01"}, "endDate"),
        ("/overview", {"appId": "not-a-uuid"}, "appId"),
        ("/overview", {"placementId": "42"}, "placementId"),
        ("/overview", {"country": "USA"}, "country"),
        ("/overview", {"network": "ad mob"}, "network"),
        ("/overview", {"format": "video"}, "format"),
        ("/timeseries", {"granularity": "week"}, "granularity"),
        ("/countries", {"limit": "101"}, "limit"),
        ("/top-apps", {"limit": "0"}, "limit"),
        ("/top-apps", {"limit": "ten"}, "limit"),
        ("/export.csv", {"report": "everything"}, "report"),
        ("/export.csv", {}, "report"),
    ],
)
async def test_bad_parameters_are_400_naming_the_field(
    tenant: Tenant, path: str, query: dict[str, str], field: str
) -> None:
    response = await tenant.call("GET", f"{BASE}{path}", params=query)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["name"] == "INVALID_REQUEST"
    assert error["details"]["fields"][0]["field"] == field
    assert error["message"].startswith(f"{field}: ")

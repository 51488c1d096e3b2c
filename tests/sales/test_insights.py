"""The trial playbook's facts, from rows inserted into the raw tables (the views fill the rollups).

The databases are shared by the whole test session, and peers are found across publishers, so
each test here owns one category no other test feeds: CTV apps (no other test sends CTV
traffic), with a format of its own per test. Traffic on other tests' apps cannot leak in either:
a category is made of app ids known to PostgreSQL for its platform.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from apex_mediation.accounts.publishers import create_publisher
from apex_mediation.db.models import App
from apex_mediation.sales.insights import (
    Benchmark,
    CaseStudy,
    RevenueEstimate,
    benchmark,
    case_study,
    revenue_estimate,
)
from apex_mediation.services import Services
from tests.helpers import PASSWORD, Tenant
from tests.reporting.data import DAY, auction, event

AT = DAY + timedelta(hours=10)
# Three days after DAY: a 7-day window ending today holds DAY and starts at DAY - 3 days.
NOW = DAY + timedelta(days=3, hours=12)
BEFORE_7_DAYS = DAY - timedelta(days=8)  # outside a 7-day window, inside a 30-day one


async def peer(services: Services, platform: str) -> tuple[uuid.UUID, uuid.UUID]:
    """Another publisher with one app on `platform`: (publisher id, app id)."""
    async with services.postgres.session() as session:
        created = await create_publisher(
            session,
            name="Peer",
            owner_email=f"peer-{secrets.token_hex(6)}@example.com",
            owner_password=PASSWORD,
        )
        app = App(
            id=uuid.uuid4(), publisher_id=created.publisher.id, name="Peer app", platform=platform
        )
        session.add(app)
        await session.commit()
    return created.publisher.id, app.id


async def traffic(
    services: Services,
    publisher_id: uuid.UUID | str,
    app_id: uuid.UUID | str,
    fmt: str,
    *,
    cpms: tuple[int, ...] = (),
    networks: tuple[str, ...] = ("admob",),
    requests: int = 0,
    fills: int = 0,
    placement_id: uuid.UUID | str | None = None,
    at: datetime = AT,
    test: int = 0,
    ivt: int = 0,
) -> None:
    """One impression per cpm (networks taken in turn), and `requests` auctions of which
    `fills` were won."""
    where: dict[str, Any] = {
        "app_id": uuid.UUID(str(app_id)),
        "placement_id": uuid.UUID(str(placement_id)) if placement_id else uuid.uuid4(),
    }
    publisher = uuid.UUID(str(publisher_id))
    events = [
        event(
            publisher,
            at=at,
            **where,
            network=networks[i % len(networks)],
            format=fmt,
            cpm_micros=cpm,
            test=test,
            ivt=ivt,
        )
        for i, cpm in enumerate(cpms)
    ]
    auctions = [
        {
            **auction(
                publisher,
                at=at,
                **where,
                winner="admob" if i < fills else "",
                format=fmt,
                test=test,
            ),
            "ivt": ivt,
        }
        for i in range(requests)
    ]
    if events:
        await services.analytics.insert("events", events)
    if auctions:
        await services.analytics.insert("auctions", auctions)


async def ctv_app(tenant: Tenant) -> str:
    app = await tenant.create(
        "/api/v1/apps", {"name": "TV", "platform": "ctv", "bundleId": "com.example.tv"}
    )
    return str(app["id"])


async def placement(tenant: Tenant, app_id: str, fmt: str, floor: int = 0) -> str:
    created = await tenant.create(
        "/api/v1/placements",
        {"name": fmt, "appId": app_id, "format": fmt, "config": {"floorCpmMicros": floor}},
    )
    return str(created["id"])


async def test_benchmark_against_the_median_peer(services: Services, tenant: Tenant) -> None:
    me, app = tenant.publisher_id, await ctv_app(tenant)
    await traffic(services, me, app, "native", cpms=(1_000_000, 3_000_000), requests=4, fills=2)
    # One paid banner impression: test banners (more of them) must not make banner the category.
    await traffic(services, me, app, "banner", cpms=(1_000_000,))
    await traffic(services, me, app, "banner", cpms=(1,) * 5, test=1)
    await traffic(services, me, app, "native", cpms=(50_000_000,), requests=3, fills=3, test=1)
    await traffic(services, me, app, "native", cpms=(50_000_000,), requests=3, fills=3, ivt=1)

    # Peers: eCPMs 1, 2, 4 and 5 dollars (median 3); fills 1/4, 3/4, 2/4 and none (median 2/4).
    for cpms, requests, fills in (
        ((1_000_000,), 4, 1),
        ((2_000_000, 2_000_000), 4, 3),
        ((4_000_000,), 4, 2),
        ((5_000_000,), 0, 0),
    ):
        publisher, peer_app = await peer(services, "ctv")
        await traffic(
            services, publisher, peer_app, "native", cpms=cpms, requests=requests, fills=fills
        )
    last_peer = publisher
    await traffic(services, last_peer, peer_app, "native", cpms=(90_000_000,), at=BEFORE_7_DAYS)
    # Not peers: another platform, another format, test traffic only, invalid traffic only.
    for platform, fmt, test, ivt in (
        ("android", "native", 0, 0),
        ("ctv", "banner", 0, 0),
        ("ctv", "native", 1, 0),
        ("ctv", "native", 0, 1),
    ):
        publisher, other = await peer(services, platform)
        await traffic(
            services,
            publisher,
            other,
            fmt,
            cpms=(90_000_000,),
            requests=2,
            fills=1,
            test=test,
            ivt=ivt,
        )

    async with services.postgres.session() as session:
        found = await benchmark(session, services.analytics, uuid.UUID(me), NOW)
    assert found == Benchmark(
        category="ctv native",
        peers=4,
        own_ecpm_micros=2_000_000,
        peer_median_ecpm_micros=3_000_000,
        own_fill_ppm=500_000,
        peer_median_fill_ppm=500_000,
    )
    assert str(last_peer) not in repr(found)


async def test_fewer_than_three_peers_give_no_peer_figure(
    services: Services, tenant: Tenant
) -> None:
    me, app = tenant.publisher_id, await ctv_app(tenant)
    await traffic(services, me, app, "app_open", cpms=(3_000_000,), requests=3, fills=1)
    for cpm in (1_000_000, 5_000_000):
        publisher, peer_app = await peer(services, "ctv")
        await traffic(services, publisher, peer_app, "app_open", cpms=(cpm,), requests=2, fills=1)

    async with services.postgres.session() as session:
        found = await benchmark(session, services.analytics, uuid.UUID(me), NOW)
        study = await case_study(session, services.analytics, uuid.UUID(me), NOW)
    assert found == Benchmark("ctv app_open", 2, 3_000_000, None, 333_333, None)
    assert study == CaseStudy("ctv app_open", None, None, 0)


async def test_the_category_before_any_traffic_comes_from_the_placements(
    services: Services, tenant: Tenant, other_tenant: Tenant
) -> None:
    app = await ctv_app(tenant)
    for fmt in ("rewarded", "rewarded", "banner"):
        await placement(tenant, app, fmt)

    async with services.postgres.session() as session:
        configured = await benchmark(
            session, services.analytics, uuid.UUID(tenant.publisher_id), NOW
        )
        empty = await benchmark(
            session, services.analytics, uuid.UUID(other_tenant.publisher_id), NOW
        )
    assert configured == Benchmark("ctv rewarded", 0, None, None, None, None)
    assert empty == Benchmark("", 0, None, None, None, None)


async def test_revenue_estimate_from_fill_and_floors(services: Services, tenant: Tenant) -> None:
    me, app = tenant.publisher_id, str((await tenant.android_app())["id"])
    no_floor = await placement(tenant, app, "banner")
    too_high = await placement(tenant, app, "interstitial", floor=5_000_000)
    fair = await placement(tenant, app, "rewarded", floor=4_000_000)
    await placement(tenant, app, "native")  # no floor, no traffic
    await placement(tenant, app, "app_open", floor=9_000_000)  # high, but no impressions
    disabled = await placement(tenant, app, "banner")
    response = await tenant.call(
        "PUT", f"/api/v1/placements/{disabled}", json={"enabled": False, "config": {}}
    )
    assert response.status_code == 200, response.text

    # eCPMs: no_floor 3 dollars, too_high 2 (floor 5 > 2 x 2), fair 2 (floor 4 = 2 x 2).
    await traffic(services, me, app, "banner", cpms=(2_000_000, 4_000_000), placement_id=no_floor)
    await traffic(services, me, app, "interstitial", cpms=(2_000_000,), placement_id=too_high)
    await traffic(services, me, app, "rewarded", cpms=(1_000_000, 3_000_000), placement_id=fair)
    await traffic(services, me, app, "banner", requests=10, fills=5)
    # Ignored: test and invalid traffic (which would make too_high's floor fair), and old data.
    await traffic(
        services, me, app, "interstitial", cpms=(9_000_000,), placement_id=too_high, test=1
    )
    await traffic(
        services, me, app, "interstitial", cpms=(9_000_000,), placement_id=too_high, ivt=1
    )
    await traffic(services, me, app, "banner", requests=5, fills=5, test=1)
    await traffic(services, me, app, "banner", requests=5, fills=0, ivt=1)
    await traffic(services, me, app, "banner", cpms=(1,), requests=5, at=BEFORE_7_DAYS)

    async with services.postgres.session() as session:
        found = await revenue_estimate(session, services.analytics, uuid.UUID(me), NOW)
        half = await revenue_estimate(
            session, services.analytics, uuid.UUID(me), NOW, recoverable_ppm=500_000
        )
    # 5 impressions, 12 dollars of CPM: eCPM 2.4 dollars; 5 unfilled x 30 % x 2.4 / 1000.
    assert found == RevenueEstimate(
        requests=10,
        fills=5,
        unfilled=5,
        ecpm_micros=2_400_000,
        estimated_missed_micros=3_600,
        placements_without_floor=2,
        placements_with_high_floor=1,
    )
    assert half.estimated_missed_micros == 6_000


async def test_revenue_estimate_without_impressions_misses_nothing_known(
    services: Services, tenant: Tenant
) -> None:
    me, app = tenant.publisher_id, str((await tenant.android_app())["id"])
    await traffic(services, me, app, "banner", requests=3)

    async with services.postgres.session() as session:
        found = await revenue_estimate(session, services.analytics, uuid.UUID(me), NOW)
    assert found == RevenueEstimate(3, 0, 3, None, 0, 0, 0)


async def test_case_study_of_the_top_quartile_peer(services: Services, tenant: Tenant) -> None:
    me, app = tenant.publisher_id, await ctv_app(tenant)
    for network, name, credentials, enabled in (
        ("unity", "a", {"game_id": "111111111111"}, True),
        ("unity", "b", {"game_id": "222222222222"}, True),
        ("applovin", "main", {"sdk_key": "k" * 20}, True),
        ("ironsource", "off", {"app_key": "k" * 10}, False),
    ):
        await tenant.create(
            "/api/v1/network-accounts",
            {"network": network, "name": name, "credentials": credentials, "enabled": enabled},
        )
    # The publisher's own eCPM is the highest: it is not its own peer.
    await traffic(services, me, app, "interstitial", cpms=(10_000_000,))

    # Sorted eCPMs 1, 2, 3 and 4 dollars: the nearest-rank 75th percentile is the third.
    for cpms, networks, at in (
        ((1_000_000,), ("admob",), AT),
        ((2_000_000, 2_000_000), ("admob", "applovin"), AT),
        ((3_000_000,) * 3, ("admob", "applovin", "unity"), AT),
        ((4_000_000,), ("admob",), BEFORE_7_DAYS),  # inside the 30-day window
    ):
        publisher, peer_app = await peer(services, "ctv")
        await traffic(
            services, publisher, peer_app, "interstitial", cpms=cpms, networks=networks, at=at
        )
    # Test traffic does not make a peer's eCPM or networks.
    await traffic(
        services, publisher, peer_app, "interstitial", cpms=(1,), networks=("mintegral",), test=1
    )

    async with services.postgres.session() as session:
        found = await case_study(session, services.analytics, uuid.UUID(me), NOW)
    assert found == CaseStudy(
        category="ctv interstitial", peer_ecpm_micros=3_000_000, peer_networks=3, own_networks=2
    )

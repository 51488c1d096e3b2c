"""The rollups of migration 0004 on the real engine: filled by the views as rows arrive, with
test and invalid traffic kept (reports exclude them), and a resent batch counted once."""

from __future__ import annotations

import uuid
from datetime import timedelta

from apex_mediation.reporting import service
from apex_mediation.reporting.params import Filters, Period
from apex_mediation.stores.analytics import Analytics
from tests.reporting.data import DAY, NEXT_DAY, auction, event, seed


async def _events_hourly(analytics: Analytics, publisher_id: uuid.UUID) -> list[dict[str, object]]:
    return await analytics.query(
        "SELECT hour, network, test, ivt, event, sum(events) AS n, sum(cpm_micros_sum) AS cpm "
        "FROM events_hourly WHERE publisher_id = {p:UUID} "
        "GROUP BY hour, network, test, ivt, event ORDER BY hour, network, test, ivt, event",
        {"p": publisher_id},
    )


async def _auctions_hourly(
    analytics: Analytics, publisher_id: uuid.UUID
) -> list[dict[str, object]]:
    return await analytics.query(
        "SELECT hour, network, test, sum(requests) AS requests, sum(fills) AS fills "
        "FROM auctions_hourly WHERE publisher_id = {p:UUID} "
        "GROUP BY hour, network, test ORDER BY hour, network, test",
        {"p": publisher_id},
    )


def _hour(delta: timedelta) -> str:
    return (DAY + delta).strftime("%Y-%m-%d %H:%M:%S")


def _row_order(row: dict[str, object]) -> tuple[str, ...]:
    return tuple(str(row[k]) for k in ("hour", "network", "test", "ivt", "event"))


async def test_the_rollups_hold_every_row_by_hour_including_test_and_ivt(
    analytics: Analytics,
) -> None:
    publisher = uuid.uuid4()
    await seed(analytics, publisher)
    h10, h11, next9 = (
        _hour(timedelta(hours=10)),
        _hour(timedelta(hours=11)),
        _hour(timedelta(hours=33)),
    )
    assert await _events_hourly(analytics, publisher) == sorted(
        [
            {
                "hour": h10,
                "network": "admob",
                "test": 0,
                "ivt": 0,
                "event": "click",
                "n": 1,
                "cpm": 3_000_000,
            },
            {
                "hour": h10,
                "network": "admob",
                "test": 0,
                "ivt": 0,
                "event": "impression",
                "n": 2,
                "cpm": 5_000_000,
            },
            {
                "hour": h10,
                "network": "admob",
                "test": 0,
                "ivt": 1,
                "event": "click",
                "n": 1,
                "cpm": 0,
            },
            {
                "hour": h10,
                "network": "admob",
                "test": 0,
                "ivt": 1,
                "event": "impression",
                "n": 1,
                "cpm": 8_000_000,
            },
            {
                "hour": h10,
                "network": "admob",
                "test": 1,
                "ivt": 0,
                "event": "impression",
                "n": 1,
                "cpm": 9_000_000,
            },
            {
                "hour": h11,
                "network": "applovin",
                "test": 0,
                "ivt": 0,
                "event": "video_complete",
                "n": 1,
                "cpm": 1_500_000,
            },
            {
                "hour": h11,
                "network": "applovin",
                "test": 0,
                "ivt": 0,
                "event": "video_first_quartile",
                "n": 1,
                "cpm": 0,
            },
            {
                "hour": h11,
                "network": "applovin",
                "test": 0,
                "ivt": 0,
                "event": "impression",
                "n": 1,
                "cpm": 1_500_000,
            },
            {
                "hour": h11,
                "network": "applovin",
                "test": 0,
                "ivt": 0,
                "event": "reward",
                "n": 1,
                "cpm": 1_500_000,
            },
            {
                "hour": next9,
                "network": "admob",
                "test": 0,
                "ivt": 0,
                "event": "impression",
                "n": 1,
                "cpm": 4_000_001,
            },
        ],
        key=_row_order,
    )
    assert await _auctions_hourly(analytics, publisher) == [
        {"hour": h10, "network": "", "test": 0, "requests": 2, "fills": 0},
        {"hour": h10, "network": "admob", "test": 0, "requests": 2, "fills": 2},
        {"hour": h10, "network": "admob", "test": 1, "requests": 1, "fills": 1},
        {"hour": h11, "network": "applovin", "test": 0, "requests": 1, "fills": 1},
        {"hour": next9, "network": "", "test": 0, "requests": 1, "fills": 0},
        {"hour": next9, "network": "admob", "test": 0, "requests": 1, "fills": 1},
    ]
    devices = await analytics.query(
        "SELECT day, test, ivt, uniqMerge(devices) AS n FROM devices_daily "
        "WHERE publisher_id = {p:UUID} GROUP BY day, test, ivt ORDER BY day, test, ivt",
        {"p": publisher},
    )
    assert devices == [
        {"day": DAY.date().isoformat(), "test": 0, "ivt": 0, "n": 2},
        {"day": DAY.date().isoformat(), "test": 0, "ivt": 1, "n": 1},
        {"day": DAY.date().isoformat(), "test": 1, "ivt": 0, "n": 1},
        {"day": NEXT_DAY.date().isoformat(), "test": 0, "ivt": 0, "n": 1},
    ]


async def test_a_batch_resent_with_its_token_counts_once_in_the_rollups(
    analytics: Analytics,
) -> None:
    publisher, app, placement = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    at = DAY + timedelta(hours=5, minutes=1)
    ids = {"app_id": app, "placement_id": placement}
    events = [
        event(publisher, at=at, **ids, cpm_micros=1_000_000, device_key="d1"),
        event(publisher, at=at, **ids, cpm_micros=2_000_000, device_key="d2"),
    ]
    auctions = [auction(publisher, at=at, **ids, winner="admob"), auction(publisher, at=at, **ids)]
    await analytics.insert("events", events, dedup_token=f"events-{publisher}-1")
    await analytics.insert("auctions", auctions, dedup_token=f"auctions-{publisher}-1")
    # The shipper resends after a timeout it could not tell from a failure; in another order
    # here, to show that the token, not the bytes, makes it the same batch.
    await analytics.insert("events", events[::-1], dedup_token=f"events-{publisher}-1")
    await analytics.insert("auctions", auctions[::-1], dedup_token=f"auctions-{publisher}-1")
    # The next batch, with a token of its own, counts.
    later = [event(publisher, at=at, **ids, cpm_micros=4_000_000, device_key="d3")]
    await analytics.insert("events", later, dedup_token=f"events-{publisher}-2")

    period = Period(DAY, DAY + timedelta(days=1))
    result = await service.overview(analytics, publisher, period, Filters())
    assert (result.metrics.impressions, result.metrics.cpm_micros) == (3, 7_000_000)
    assert (result.metrics.requests, result.metrics.fills) == (2, 1)
    assert result.dau == 3
    rows = await _events_hourly(analytics, publisher)
    assert [(row["n"], row["cpm"]) for row in rows] == [(3, 7_000_000)]
    rows = await _auctions_hourly(analytics, publisher)
    assert [(row["requests"], row["fills"]) for row in rows] == [(1, 0), (1, 1)]


async def test_rollup_hours_are_utc_whatever_the_session_zone(analytics: Analytics) -> None:
    publisher, app, placement = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    # Read as India time (+05:30) by that session: 18:20 UTC, in the UTC hour 18:00, whereas
    # an hour taken in the session's zone would be 23:00 there, 17:30 UTC.
    row = event(
        publisher,
        at=DAY + timedelta(hours=23, minutes=50),
        app_id=app,
        placement_id=placement,
        cpm_micros=1_000,
    )
    await analytics.command("SET session_timezone = 'Asia/Kolkata'")
    try:
        await analytics.insert("events", [row])
    finally:
        await analytics.command("SET session_timezone = 'UTC'")
    raw = await analytics.query(
        "SELECT received_at FROM events WHERE publisher_id = {p:UUID}", {"p": publisher}
    )
    assert raw == [{"received_at": _hour(timedelta(hours=18, minutes=20)) + ".000"}]
    rows = await _events_hourly(analytics, publisher)
    assert [row["hour"] for row in rows] == [_hour(timedelta(hours=18))]

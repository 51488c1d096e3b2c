"""The facts behind the trial playbook's emails, computed from the platform's own data.

Day 1 sets a publisher against its peers, day 3 estimates the revenue its unfilled requests
leave behind, day 8 describes one anonymised peer. Money is integer micros, ratios are parts per
million; nothing here sends or words an email.

A category is a platform (App.platform, PostgreSQL) and an ad format (the rollups). Peers are the
other publishers with paid traffic in the category: those queries cross publishers on purpose, a
benchmark needs them, so they are filtered by the category's apps instead of one tenant. Only
aggregates leave this module, never a peer's id, and no peer figure comes from fewer than
MIN_PEERS publishers, so that an email can never reveal one peer's numbers.

Windows are the `days` UTC days ending with the day of `now`, read from the daily inventory
rollups (migration 0007). Test traffic and invalid traffic are excluded; the auction rollups
hold no invalid traffic to begin with (migration 0008).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.db.models import App, NetworkAccount, Placement
from apex_mediation.stores.analytics import Analytics
from apex_mediation.tracking.event_names import IMPRESSION

__all__ = [
    "DEFAULT_RECOVERABLE_PPM",
    "MIN_PEERS",
    "Benchmark",
    "CaseStudy",
    "RevenueEstimate",
    "benchmark",
    "case_study",
    "revenue_estimate",
]

MIN_PEERS = 3
# The share of unfilled requests assumed recoverable: deliberately conservative, since an
# unfilled request is often one no demand would have bought at any price.
DEFAULT_RECOVERABLE_PPM = 300_000
PPM = 1_000_000


@dataclass(frozen=True)
class Benchmark:
    """Day 1: the publisher against its peers in its main category."""

    category: str  # "<platform> <format>", e.g. "android rewarded"; "" with no placement at all
    peers: int  # other publishers in the category with traffic in the window
    own_ecpm_micros: int | None
    peer_median_ecpm_micros: int | None
    own_fill_ppm: int | None  # fills / requests
    peer_median_fill_ppm: int | None


@dataclass(frozen=True)
class RevenueEstimate:
    """Day 3: revenue left on the table, from the publisher's own fill and floors."""

    requests: int
    fills: int
    unfilled: int
    ecpm_micros: int | None
    estimated_missed_micros: int  # unfilled x recoverable share x own eCPM / 1000; 0 without eCPM
    placements_without_floor: int  # enabled placements with floor_cpm_micros 0
    placements_with_high_floor: int  # floor above twice the placement's realised eCPM


@dataclass(frozen=True)
class CaseStudy:
    """Day 8: one anonymised peer from the publisher's category."""

    category: str
    peer_ecpm_micros: int | None  # the top-quartile peer's eCPM
    peer_networks: int | None  # how many networks that peer's impressions came from
    own_networks: int  # networks of the publisher's enabled network accounts


@dataclass
class _Traffic:
    """One publisher's paid traffic in a category."""

    impressions: int = 0
    cpm_micros: int = 0
    requests: int = 0
    fills: int = 0
    networks: set[str] = field(default_factory=set)

    @property
    def ecpm_micros(self) -> int | None:
        return _div_round(self.cpm_micros, self.impressions) if self.impressions else None

    @property
    def fill_ppm(self) -> int | None:
        return _div_round(self.fills * PPM, self.requests) if self.requests else None


@dataclass(frozen=True)
class _Category:
    platform: str
    format: str

    def __str__(self) -> str:
        return f"{self.platform} {self.format}"


# -- the facts -------------------------------------------------------------------------------


async def benchmark(
    session: AsyncSession,
    analytics: Analytics,
    publisher_id: uuid.UUID,
    now: dt.datetime,
    days: int = 7,
) -> Benchmark:
    window = _window(now, days)
    category = await _category(session, analytics, publisher_id, window)
    if category is None:
        return Benchmark("", 0, None, None, None, None)
    own, peers = await _category_traffic(session, analytics, publisher_id, category, window)
    return Benchmark(
        category=str(category),
        peers=len(peers),
        own_ecpm_micros=own.ecpm_micros,
        peer_median_ecpm_micros=_median(p.ecpm_micros for p in peers),
        own_fill_ppm=own.fill_ppm,
        peer_median_fill_ppm=_median(p.fill_ppm for p in peers),
    )


async def revenue_estimate(
    session: AsyncSession,
    analytics: Analytics,
    publisher_id: uuid.UUID,
    now: dt.datetime,
    days: int = 7,
    recoverable_ppm: int = DEFAULT_RECOVERABLE_PPM,
) -> RevenueEstimate:
    if not 0 <= recoverable_ppm <= PPM:
        raise ValueError("recoverable_ppm must lie between 0 and 1_000_000")
    params = {**_window(now, days), "publisher_id": publisher_id}
    (auctions,) = await analytics.query(_OWN_AUCTIONS, params)
    per_placement = {
        uuid.UUID(row["placement_id"]): (int(row["impressions"]), int(row["cpm"]))
        for row in await analytics.query(_OWN_PLACEMENT_IMPRESSIONS, params)
    }
    requests, fills = int(auctions["requests"]), int(auctions["fills"])
    unfilled = max(requests - fills, 0)
    impressions = sum(n for n, _ in per_placement.values())
    cpm_micros = sum(cpm for _, cpm in per_placement.values())
    ecpm = _div_round(cpm_micros, impressions) if impressions else None
    # Rounded down: an estimate meant to be conservative should not round up.
    missed = unfilled * recoverable_ppm * ecpm // (PPM * 1000) if ecpm else 0

    floors = (
        await session.execute(
            select(Placement.id, Placement.floor_cpm_micros).where(
                Placement.publisher_id == publisher_id, Placement.enabled.is_(True)
            )
        )
    ).all()
    # floor > 2 x (cpm / impressions), compared without dividing so no rounding tips it.
    high = sum(
        1
        for placement_id, floor in floors
        if (served := per_placement.get(placement_id)) is not None
        and served[0] > 0
        and floor * served[0] > 2 * served[1]
    )
    return RevenueEstimate(
        requests=requests,
        fills=fills,
        unfilled=unfilled,
        ecpm_micros=ecpm,
        estimated_missed_micros=missed,
        placements_without_floor=sum(1 for _, floor in floors if floor == 0),
        placements_with_high_floor=high,
    )


async def case_study(
    session: AsyncSession,
    analytics: Analytics,
    publisher_id: uuid.UUID,
    now: dt.datetime,
    days: int = 30,
) -> CaseStudy:
    own_networks = int(
        await session.scalar(
            select(func.count(func.distinct(NetworkAccount.network))).where(
                NetworkAccount.publisher_id == publisher_id, NetworkAccount.enabled.is_(True)
            )
        )
        or 0
    )
    window = _window(now, days)
    category = await _category(session, analytics, publisher_id, window)
    if category is None:
        return CaseStudy("", None, None, own_networks)
    _, peers = await _category_traffic(session, analytics, publisher_id, category, window)
    earning = sorted((ecpm, len(p.networks)) for p in peers if (ecpm := p.ecpm_micros) is not None)
    if len(earning) < MIN_PEERS:
        return CaseStudy(str(category), None, None, own_networks)
    # The nearest-rank 75th percentile: a real peer's figures, not an average of several.
    ecpm, networks = earning[(3 * len(earning) + 3) // 4 - 1]
    return CaseStudy(str(category), ecpm, networks, own_networks)


# -- queries ---------------------------------------------------------------------------------

_DAYS = "day >= {start_day:Date} AND day <= {end_day:Date}"
_PAID_IMPRESSIONS = f"event = '{IMPRESSION}' AND test = 0 AND ivt = 0"

_OWN_FORMATS = f"""\
SELECT app_id, format, sum(events) AS impressions
FROM events_inventory_daily
WHERE publisher_id = {{publisher_id:UUID}} AND {_DAYS} AND {_PAID_IMPRESSIONS}
GROUP BY app_id, format"""  # noqa: S608 - only this module's constants are spliced in

_OWN_AUCTIONS = f"""\
SELECT sum(requests) AS requests, sum(fills) AS fills
FROM auctions_inventory_daily
WHERE publisher_id = {{publisher_id:UUID}} AND {_DAYS} AND test = 0"""  # noqa: S608

_OWN_PLACEMENT_IMPRESSIONS = f"""\
SELECT placement_id, sum(events) AS impressions, sum(cpm_micros_sum) AS cpm
FROM events_inventory_daily
WHERE publisher_id = {{publisher_id:UUID}} AND {_DAYS} AND {_PAID_IMPRESSIONS}
GROUP BY placement_id"""  # noqa: S608

# Cross-publisher by design (see the module's docstring): filtered by the category's apps.
_CATEGORY_IMPRESSIONS = f"""\
SELECT publisher_id, network, sum(events) AS impressions, sum(cpm_micros_sum) AS cpm
FROM events_inventory_daily
WHERE app_id IN {{apps:Array(UUID)}} AND format = {{format:String}} AND {_DAYS}
      AND {_PAID_IMPRESSIONS}
GROUP BY publisher_id, network"""  # noqa: S608

_CATEGORY_AUCTIONS = f"""\
SELECT publisher_id, sum(requests) AS requests, sum(fills) AS fills
FROM auctions_inventory_daily
WHERE app_id IN {{apps:Array(UUID)}} AND format = {{format:String}} AND {_DAYS} AND test = 0
GROUP BY publisher_id"""  # noqa: S608


async def _category(
    session: AsyncSession, analytics: Analytics, publisher_id: uuid.UUID, window: dict[str, object]
) -> _Category | None:
    """The platform and format with most of the publisher's impressions in the window; before
    any traffic, those with most of its enabled placements; None with no placement at all."""
    apps = await session.execute(
        select(App.id, App.platform).where(App.publisher_id == publisher_id)
    )
    platforms = {app_id: platform for app_id, platform in apps}
    impressions: dict[_Category, int] = defaultdict(int)
    for row in await analytics.query(_OWN_FORMATS, {**window, "publisher_id": publisher_id}):
        platform = platforms.get(uuid.UUID(row["app_id"]))
        if platform is not None:  # an app deleted since: no platform to place it in
            impressions[_Category(platform, row["format"])] += int(row["impressions"])
    if not impressions:
        configured = await session.execute(
            select(App.platform, Placement.format, func.count())
            .join(App, App.id == Placement.app_id)
            .where(Placement.publisher_id == publisher_id, Placement.enabled.is_(True))
            .group_by(App.platform, Placement.format)
        )
        impressions.update({_Category(p, f): n for p, f, n in configured})
    if not impressions:
        return None
    # Most first; ties broken by name so that the same data always gives the same category.
    return min(impressions, key=lambda c: (-impressions[c], c.platform, c.format))


async def _category_traffic(
    session: AsyncSession,
    analytics: Analytics,
    publisher_id: uuid.UUID,
    category: _Category,
    window: dict[str, object],
) -> tuple[_Traffic, list[_Traffic]]:
    """The publisher's own traffic in the category, and each peer's (those with any)."""
    apps = (await session.scalars(select(App.id).where(App.platform == category.platform))).all()
    params = {**window, "apps": [str(a) for a in apps], "format": category.format}
    traffic: dict[str, _Traffic] = defaultdict(_Traffic)
    for row in await analytics.query(_CATEGORY_IMPRESSIONS, params):
        publisher = traffic[row["publisher_id"]]
        publisher.impressions += int(row["impressions"])
        publisher.cpm_micros += int(row["cpm"])
        if row["network"]:
            publisher.networks.add(row["network"])
    for row in await analytics.query(_CATEGORY_AUCTIONS, params):
        publisher = traffic[row["publisher_id"]]
        publisher.requests += int(row["requests"])
        publisher.fills += int(row["fills"])
    own = traffic.pop(str(publisher_id), _Traffic())
    peers = [t for t in traffic.values() if t.impressions or t.requests]
    return own, peers


# -- arithmetic ------------------------------------------------------------------------------


def _window(now: dt.datetime, days: int) -> dict[str, object]:
    """The `days` UTC days ending with now's, as the queries' {start_day} and {end_day}."""
    if days < 1:
        raise ValueError("days must be at least 1")
    aware = now if now.tzinfo is not None else now.replace(tzinfo=dt.UTC)
    end = aware.astimezone(dt.UTC).date()
    return {"start_day": end - dt.timedelta(days=days - 1), "end_day": end}


def _median(values: Iterable[int | None]) -> int | None:
    """The median of the known values, half up between two; None from fewer than MIN_PEERS."""
    known = sorted(v for v in values if v is not None)
    if len(known) < MIN_PEERS:
        return None
    middle = len(known) // 2
    if len(known) % 2:
        return known[middle]
    return _div_round(known[middle - 1] + known[middle], 2)


def _div_round(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up, for a non-negative numerator and a positive
    denominator (as reporting/service.py rounds)."""
    return (2 * numerator + denominator) // (2 * denominator)

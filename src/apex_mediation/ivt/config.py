"""The IVT policy in memory: rule weights, allow- and block-lists, data-centre ranges and
per-publisher thresholds, loaded whole from PostgreSQL (migration 006) and swapped in by one
assignment, like the auction's config snapshot: never a database read per request.

A cheap fingerprint query (row counts and latest changes of the policy tables) decides whether
a reload is needed; the holder refreshes every few seconds, so an operator's change is live
within that time on every process.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select, text

from apex_mediation.auction.pacing import hash_device
from apex_mediation.db.models import IvtIpRange, IvtListEntry, IvtRule, IvtThreshold
from apex_mediation.ivt.ranges import IpRanges, shipped_ranges
from apex_mediation.ivt.reasons import DEFAULT_WEIGHTS_PPM
from apex_mediation.ivt.scoring import DEFAULT_THRESHOLDS, Thresholds
from apex_mediation.stores.postgres import Postgres

log = logging.getLogger(__name__)

FINGERPRINT = text(
    "SELECT concat_ws('/',"
    " (SELECT count(*) || ':' || coalesce(max(created_at)::text, '') FROM ivt_list_entries),"
    " (SELECT count(*) || ':' || coalesce(max(loaded_at)::text, '') FROM ivt_ip_ranges),"
    " (SELECT count(*) || ':' || coalesce(max(updated_at)::text, '') FROM ivt_rules),"
    " (SELECT count(*) || ':' || coalesce(max(updated_at)::text, '') FROM ivt_thresholds))"
)


@dataclass(frozen=True)
class Lists:
    """One side (allow or block) of one owner's (the platform's or a publisher's) lists."""

    ips: frozenset[str] = frozenset()
    cidrs: IpRanges | None = None
    devices: frozenset[str] = frozenset()  # device keys (hashed ids), as tokens carry them
    apps: frozenset[str] = frozenset()

    def match(self, ip: str | None, device_key: str | None, app_id: str | None) -> str | None:
        """What matched (kind), or None."""
        if ip is not None and (ip in self.ips or (self.cidrs and self.cidrs.lookup(ip))):
            return "ip"
        if device_key is not None and device_key in self.devices:
            return "device"
        if app_id is not None and app_id in self.apps:
            return "app"
        return None


EMPTY = Lists()


@dataclass(frozen=True)
class IvtConfig:
    weights: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS_PPM))
    datacenter: IpRanges = field(default_factory=lambda: IpRanges(shipped_ranges()))
    allow: dict[str | None, Lists] = field(default_factory=dict)  # None: platform-wide
    block: dict[str | None, Lists] = field(default_factory=dict)
    thresholds: dict[str, Thresholds] = field(default_factory=dict)

    def thresholds_of(self, publisher_id: str) -> Thresholds:
        return self.thresholds.get(publisher_id, DEFAULT_THRESHOLDS)

    def listed(
        self, side: dict[str | None, Lists], publisher_id: str, ip: str | None,
        device_key: str | None, app_id: str | None,
    ) -> str | None:  # fmt: skip
        for owner in (None, publisher_id):
            found = side.get(owner, EMPTY).match(ip, device_key, app_id)
            if found:
                return found
        return None


def _lists(entries: Iterable[IvtListEntry]) -> Lists:
    ips, cidrs, devices, apps = set(), [], set(), set()
    for entry in entries:
        if entry.kind == "ip":
            ips.add(str(ipaddress.ip_address(entry.value)))
        elif entry.kind == "cidr":
            cidrs.append((entry.value, "list"))
        elif entry.kind == "device":
            devices.add(hash_device(entry.value))
        else:
            apps.add(entry.value)
    return Lists(frozenset(ips), IpRanges(cidrs) if cidrs else None, frozenset(devices),
                 frozenset(apps))  # fmt: skip


async def load_config(postgres: Postgres) -> IvtConfig:
    async with postgres.session() as session:
        rules = list(await session.scalars(select(IvtRule)))
        entries = list(await session.scalars(select(IvtListEntry)))
        ranges = (await session.execute(select(IvtIpRange.cidr, IvtIpRange.source))).all()
        thresholds = list(await session.scalars(select(IvtThreshold)))
    weights = dict(DEFAULT_WEIGHTS_PPM)
    for rule in rules:
        if rule.reason in weights:
            weights[rule.reason] = rule.weight_ppm if rule.enabled else 0
    sides: dict[str, dict[str | None, list[IvtListEntry]]] = {"allow": {}, "block": {}}
    for entry in entries:
        owner = str(entry.publisher_id) if entry.publisher_id else None
        sides[entry.action].setdefault(owner, []).append(entry)
    return IvtConfig(
        weights={reason: weight for reason, weight in weights.items() if weight > 0},
        datacenter=IpRanges([*shipped_ranges(), *((r.cidr, r.source) for r in ranges)]),
        allow={owner: _lists(found) for owner, found in sides["allow"].items()},
        block={owner: _lists(found) for owner, found in sides["block"].items()},
        thresholds={
            str(t.publisher_id): Thresholds(block_ppm=t.block_ppm, flag_ppm=t.flag_ppm)
            for t in thresholds
        },
    )


class IvtConfigStore:
    """The current policy, reloaded when its fingerprint changes."""

    def __init__(self, postgres: Postgres) -> None:
        self.postgres = postgres
        self.current = IvtConfig()
        self._fingerprint: str | None = None

    async def refresh(self, force: bool = False) -> bool:
        async with self.postgres.engine.connect() as conn:
            fingerprint = str((await conn.execute(FINGERPRINT)).scalar_one())
        if fingerprint == self._fingerprint and not force:
            return False
        self.current = await load_config(self.postgres)
        self._fingerprint = fingerprint
        return True

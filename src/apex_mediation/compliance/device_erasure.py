"""End-user erasure: one device's data, found by its advertising id or install id, deleted
from every store that keeps it — on behalf of a publisher (its own data only) or of the
operator (every publisher's).

Where a device is kept: its key (`pacing.hash_device` of the id, never the id itself) on every
tracked event in ClickHouse, in device entries of the IVT block- and allow-lists, and in the
cache's frequency caps (per placement, hour, day and last impression) and behaviour windows.
Unique-device counts in the rollups are aggregate sketches with no key to find a device by;
they are left as they are, and the receipt says so."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import audit
from apex_mediation.accounts.errors import InvalidInput, PermissionDenied
from apex_mediation.accounts.identity import Actor
from apex_mediation.auction import pacing
from apex_mediation.compliance import analytics_sql, requests
from apex_mediation.compliance.erasure import Flush
from apex_mediation.db.models import IvtListEntry, Placement, PrivacyRequest
from apex_mediation.ivt.behaviour import PREFIX as IVT_PREFIX
from apex_mediation.services import Services

MAX_ID_CHARS = 200
# The behaviour windows and suspicion kept per device key (ivt/behaviour.py).
_IVT_KEYS = ("dr", "sus", "dipn", "dips", "di", "dc")


def device_keys(advertising_id: str | None, install_id: str | None) -> list[str]:
    """The keys the id may have been stored under: as given, then in either case (platforms
    differ in how they print an advertising id)."""
    given = [v for v in (advertising_id, install_id) if v is not None]
    if len(given) != 1:
        raise InvalidInput("give exactly one of advertisingId or installId", field="body")
    raw = given[0].strip()
    field = "advertisingId" if advertising_id is not None else "installId"
    if not raw or len(raw) > MAX_ID_CHARS:
        raise InvalidInput(f"1 to {MAX_ID_CHARS} characters", field=field)
    given_key = pacing.hash_device(raw)
    variants = {pacing.hash_device(v) for v in (raw.lower(), raw.upper())} - {given_key}
    return [given_key, *sorted(variants)]  # the id as given first: the request's subject


async def _clickhouse(
    services: Services, keys: list[str], publisher_id: uuid.UUID | None
) -> dict[str, int]:
    removed: dict[str, int] = {}
    scoped = publisher_id is not None
    for table in analytics_sql.DEVICE_TABLES:
        removed[table] = 0
        for key in keys:
            params: dict[str, Any] = {"device_key": key}
            if scoped:
                params["publisher_id"] = publisher_id
            rows = await services.analytics.query(
                analytics_sql.count_device(table, scoped=scoped), params
            )
            found = int(rows[0]["n"]) if rows else 0
            if found:
                await services.analytics.command(
                    analytics_sql.delete_device(table, scoped=scoped), params
                )
            removed[table] += found
    return removed


async def _cache(
    session: AsyncSession, services: Services, keys: list[str], publisher_id: uuid.UUID | None
) -> int:
    """Frequency caps of the publisher's placements (or all) and the device's IVT windows.
    A cap counter lives an hour or a day from its first impression, so the current and the
    previous hour and day are all there is to clear."""
    query = select(Placement.id)
    if publisher_id is not None:
        query = query.where(Placement.publisher_id == publisher_id)
    placements = [str(p) for p in await session.scalars(query)]
    now = time.time()
    hour, day = int(now // pacing.HOUR_S), int(now // pacing.DAY_S)
    names = [f"{IVT_PREFIX}{kind}:{key}" for key in keys for kind in _IVT_KEYS]
    for placement in placements:
        for key in keys:
            base = f"fcap:{placement}:{key}"
            names += [f"{base}:h{hour}", f"{base}:h{hour - 1}", f"{base}:d{day}",
                      f"{base}:d{day - 1}", f"{base}:last"]  # fmt: skip
    found = 0
    for name in names:
        if await services.cache.get(name) is not None:
            found += 1
        await services.cache.delete(name)
    return found


async def erase_device(
    session: AsyncSession,
    services: Services,
    actor: Actor,
    *,
    advertising_id: str | None = None,
    install_id: str | None = None,
    all_publishers: bool = False,
    flush_ingest: Flush | None = None,
) -> PrivacyRequest:
    """Erase one device's data: the actor's publisher's, or every publisher's for an
    operator (`all_publishers`). Recorded with a receipt of the rows removed per store."""
    keys = device_keys(advertising_id, install_id)
    if all_publishers:
        if not actor.is_platform_operator:
            raise PermissionDenied("only platform operators erase across publishers")
        publisher_id = None
    else:
        actor.require_role("admin")
        publisher_id = actor.tenant()
    request = await requests.create(session, actor, "device_erasure", publisher_id, subject=keys[0])
    request.status, request.started_at = "running", dt.datetime.now(dt.UTC)
    if flush_ingest is not None:  # the device's acknowledged events land first, then go
        await flush_ingest()
    clickhouse = await _clickhouse(services, keys, publisher_id)
    entries = delete(IvtListEntry).where(
        IvtListEntry.kind == "device", IvtListEntry.value.in_(keys)
    )
    if publisher_id is not None:
        entries = entries.where(IvtListEntry.publisher_id == publisher_id)
    listed = requests.rowcount(await session.execute(entries))
    cached = await _cache(session, services, keys, publisher_id)
    now = dt.datetime.now(dt.UTC)
    request.receipt = {
        "request_id": str(request.id),
        "scope": str(publisher_id) if publisher_id else "all publishers",
        "device_keys": keys,
        "completed_at": now.isoformat(),
        "removed": {
            "clickhouse": clickhouse,
            "postgres": {"ivt_list_entries": listed},
            "cache": {"entries": cached},
        },
        "kept": [
            {
                "data": "unique-device counts in the reporting rollups",
                "reason": "aggregate sketches of many devices; no device can be found in them",
            }
        ],
    }
    request.status, request.completed_at = "completed", now
    await audit.record(
        session, actor, "privacy.device_erased", "privacy_request", request.id,
        publisher_id=publisher_id,
        details={"events": sum(clickhouse.values()), "list_entries": listed},
    )  # fmt: skip
    await session.flush()
    return request

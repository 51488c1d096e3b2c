"""Changing the IVT policy in PostgreSQL: block- and allow-list entries, data-centre ranges from
a provider's file, per-publisher thresholds. Each change writes its decision to ivt_decisions
(who, what, when); the serving processes pick the change up within seconds (config.py)."""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts.errors import InvalidInput
from apex_mediation.db.models import (
    IVT_LIST_ACTIONS,
    IVT_LIST_KINDS,
    IvtDecision,
    IvtIpRange,
    IvtListEntry,
    IvtThreshold,
)
from apex_mediation.ivt.scoring import PPM


async def record(
    session: AsyncSession,
    actor: str,
    action: str,
    details: dict[str, Any],
    publisher_id: uuid.UUID | None = None,
) -> None:
    session.add(IvtDecision(publisher_id=publisher_id, actor=actor, action=action, details=details))


def _normalised(kind: str, value: str) -> str:
    value = value.strip()
    try:
        if kind == "ip":
            return str(ipaddress.ip_address(value))
        if kind == "cidr":
            return str(ipaddress.ip_network(value, strict=False))
        if kind == "app":
            return str(uuid.UUID(value))
    except ValueError as exc:
        raise InvalidInput(f"{value!r} is not a valid {kind}", field="value") from exc
    if not value or len(value) > 200:
        raise InvalidInput("a device id of 1 to 200 characters", field="value")
    return value


async def add_entry(
    session: AsyncSession,
    actor: str,
    *,
    kind: str,
    value: str,
    action: str,
    publisher_id: uuid.UUID | None = None,
    note: str = "",
) -> IvtListEntry:
    if kind not in IVT_LIST_KINDS:
        raise InvalidInput(f"one of {', '.join(IVT_LIST_KINDS)}", field="kind")
    if action not in IVT_LIST_ACTIONS:
        raise InvalidInput(f"one of {', '.join(IVT_LIST_ACTIONS)}", field="action")
    entry = IvtListEntry(
        publisher_id=publisher_id,
        kind=kind,
        value=_normalised(kind, value),
        action=action,
        note=note[:500],
    )
    session.add(entry)
    await session.flush()
    await record(session, actor, f"list.{action}", {"kind": kind, "value": entry.value,
                                                    "note": entry.note}, publisher_id)  # fmt: skip
    return entry


async def remove_entry(session: AsyncSession, actor: str, entry_id: uuid.UUID) -> bool:
    entry = await session.get(IvtListEntry, entry_id)
    if entry is None:
        return False
    await session.delete(entry)
    details = {"kind": entry.kind, "value": entry.value, "action": entry.action}
    await record(session, actor, "list.removed", details, entry.publisher_id)
    return True


async def load_ranges(
    session: AsyncSession, actor: str, source: str, cidrs: list[str], *, replace: bool = True
) -> int:
    """Store a provider's ranges under `source`; by default they replace that source's last
    load (a provider's file is its whole current list). Returns the number stored."""
    if replace:
        await session.execute(delete(IvtIpRange).where(IvtIpRange.source == source))
    unique = sorted({str(ipaddress.ip_network(c, strict=False)) for c in cidrs})
    for start in range(0, len(unique), 5000):
        chunk = [{"cidr": cidr, "source": source} for cidr in unique[start : start + 5000]]
        statement = insert(IvtIpRange).values(chunk)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[IvtIpRange.cidr], set_={"source": statement.excluded.source}
            )
        )
    await record(session, actor, "ranges.loaded", {"source": source, "ranges": len(unique)})
    return len(unique)


def _ppm(value: float, field: str) -> int:
    if not 0 < value <= 1:
        raise InvalidInput("a score above 0 and at most 1", field=field)
    return round(value * PPM)


async def set_thresholds(
    session: AsyncSession, actor: str, publisher_id: uuid.UUID, *, block: float, flag: float
) -> IvtThreshold:
    block_ppm, flag_ppm = _ppm(block, "block"), _ppm(flag, "flag")
    if flag_ppm > block_ppm:
        raise InvalidInput("the flag threshold cannot be above the block threshold", field="flag")
    row = await session.scalar(
        select(IvtThreshold).where(IvtThreshold.publisher_id == publisher_id)
    )
    if row is None:
        row = IvtThreshold(publisher_id=publisher_id, block_ppm=block_ppm, flag_ppm=flag_ppm)
        session.add(row)
    else:  # a new updated_at also changes the policy's fingerprint: processes reload
        row.block_ppm, row.flag_ppm, row.updated_at = block_ppm, flag_ppm, func.now()
    await session.flush()
    await record(session, actor, "thresholds.set", {"block": block, "flag": flag}, publisher_id)
    return row

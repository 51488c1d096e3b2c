"""Incidents from snapshots: a threshold crossed opens one (one open incident per kind and
key), a later snapshot within bounds resolves it. Thresholds match the alert rules' intent:
a route's p95 over a second or its errors over 5 %, a bidder timing out on a fifth of its
calls, ingest more than a minute behind, connections over 80 % of the server's limit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.db.models import Incident, SystemSnapshot

MIN_REQUESTS = 20  # fewer requests in an hour say nothing about a route


@dataclass(frozen=True)
class Finding:
    kind: str
    key: str
    severity: str
    summary: str
    details: dict[str, object]


def findings(s: SystemSnapshot) -> list[Finding]:
    found: list[Finding] = []
    for route, r in s.routes.items():
        if r["requests"] < MIN_REQUESTS:
            continue
        if r["p95_ms"] is None or r["p95_ms"] > 1000:
            summary = f"{route}: p95 above 1 s over {r['requests']} requests"
            found.append(Finding("slow_route", route, "warning", summary, r))
        if r["error_ppm"] > 50_000:
            summary = f"{route}: {r['error_ppm'] // 10_000} % errors"
            found.append(Finding("route_errors", route, "critical", summary, r))
    for network, b in s.bidders.items():
        if b["calls"] >= MIN_REQUESTS and b["timeout_ppm"] > 200_000:
            summary = f"{network}: {b['timeout_ppm'] // 10_000} % of calls time out"
            found.append(Finding("bidder_timeouts", network, "warning", summary, b))
    if s.ingest_lag_ms > 60_000:
        summary = f"ingest is {s.ingest_lag_ms // 1000} s behind"
        found.append(Finding("ingest_lag", "ingest", "critical", summary, {}))
    db = s.database
    if db.get("max_connections") and db["connections"] * 5 > db["max_connections"] * 4:
        summary = f"{db['connections']} of {db['max_connections']} connections"
        found.append(Finding("db_connections", "postgres", "critical", summary, db))
    return found


async def update(
    session: AsyncSession, snapshot: SystemSnapshot, now: dt.datetime
) -> tuple[int, int]:
    """Open what the snapshot shows, resolve what it no longer shows: (opened, resolved)."""
    current = {(f.kind, f.key): f for f in findings(snapshot)}
    opened = 0
    for f in current.values():
        inserted = await session.scalar(
            insert(Incident)
            .values(
                kind=f.kind,
                key=f.key,
                severity=f.severity,
                summary=f.summary,
                details=f.details,
                opened_at=now,
                last_seen_at=now,
            )
            .on_conflict_do_update(
                index_elements=[Incident.kind, Incident.key],
                index_where=Incident.resolved_at.is_(None),
                set_={"last_seen_at": now, "summary": f.summary, "details": f.details},
            )
            .returning(Incident.opened_at)
        )
        opened += inserted == now
    resolved = 0
    for incident in await session.scalars(select(Incident).where(Incident.resolved_at.is_(None))):
        if (incident.kind, incident.key) not in current:
            incident.resolved_at = now
            resolved += 1
    return opened, resolved

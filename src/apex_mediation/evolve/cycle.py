"""The self-evolving system's hourly run: take a snapshot and open or resolve incidents; from
slow statements (when pg_stat_statements is usable) propose; apply what an operator approved;
judge what was applied."""

from __future__ import annotations

import datetime as dt

from apex_mediation.evolve import incidents, indexes, records, snapshots
from apex_mediation.stores import query_stats
from apex_mediation.stores.postgres import Postgres, plain_url


async def run(
    postgres: Postgres, now: dt.datetime, *, dry_run: bool = False, min_mean_ms: int = 20
) -> dict[str, int]:
    counts: dict[str, int] = {}
    if not dry_run:
        snapshot = await snapshots.take(postgres, now)
        async with postgres.session() as session:
            counts["incidents_opened"], counts["incidents_resolved"] = await incidents.update(
                session, snapshot, now
            )
            await session.commit()
    stats = await query_stats.detect(postgres, create=not dry_run)
    if not stats.usable:
        return {**counts, "query_stats": 0}
    async with postgres.engine.connect() as conn:
        slow = await indexes.slow_statements(conn, min_mean_ms=min_mean_ms)
        proposals = await indexes.propose(conn, plain_url(postgres.url), slow)
    counts |= {"query_stats": 1, "slow_statements": len(slow), "candidates": len(proposals)}
    if dry_run:
        return counts
    async with postgres.session() as session:
        counts["proposed"] = await records.record_proposals(session, proposals, now)
        await session.commit()
    counts["applied"] = await records.apply_approved(postgres, now)
    counts["verified"], counts["rolled_back"] = await records.verify_applied(postgres, now)
    return counts

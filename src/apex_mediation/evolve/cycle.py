"""The self-evolving system's hourly run: take a snapshot and open or resolve incidents; judge
what earlier runs applied; propose tuning from the snapshot (approved at once when the operator
allows it) and indexes from slow statements (when pg_stat_statements is usable); apply what is
approved."""

from __future__ import annotations

import datetime as dt

from apex_mediation.evolve import incidents, indexes, records, snapshots, tuning
from apex_mediation.stores import query_stats
from apex_mediation.stores.postgres import Postgres, plain_url
from apex_mediation.tuning import settings as runtime_settings


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
        # Judge what earlier runs applied before proposing: a knob being measured gets no
        # other change on top.
        counts["verified"], counts["rolled_back"] = await records.verify_applied(postgres, now)
        async with postgres.session() as session:
            values = await runtime_settings.values(session)
            counts["tuning_proposed"] = await records.record_tuning(
                session, tuning.propose(snapshot, values), now
            )
            counts["auto_approved"] = await records.approve_tuning_automatically(session, now)
            await session.commit()
    stats = await query_stats.detect(postgres, create=not dry_run)
    if stats.usable:
        async with postgres.engine.connect() as conn:
            slow = await indexes.slow_statements(conn, min_mean_ms=min_mean_ms)
            proposals = await indexes.propose(conn, plain_url(postgres.url), slow)
        counts |= {"query_stats": 1, "slow_statements": len(slow), "candidates": len(proposals)}
        if not dry_run:
            async with postgres.session() as session:
                counts["proposed"] = await records.record_proposals(session, proposals, now)
                await session.commit()
    else:
        counts["query_stats"] = 0
    if not dry_run:
        counts["applied"] = await records.apply_approved(postgres, now)
    return counts

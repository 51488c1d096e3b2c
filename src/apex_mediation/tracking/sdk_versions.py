"""SDK versions seen per app (004_add_sdk_metadata), counted in memory on the hot path and
written to PostgreSQL in one upsert per interval, never per request."""

from __future__ import annotations

import uuid
from collections import Counter as Tally

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert

from apex_mediation.db.models import SdkVersionSeen
from apex_mediation.stores.postgres import Postgres

MAX_VERSION_LENGTH = 64


class SdkVersions:
    def __init__(self, postgres: Postgres) -> None:
        self._postgres = postgres
        self._seen: Tally[tuple[str, str, str]] = Tally()

    def saw(self, app_id: str, platform: str, version: str | None) -> None:
        if version:
            self._seen[(app_id, platform, version[:MAX_VERSION_LENGTH])] += 1

    async def flush(self) -> int:
        seen, self._seen = self._seen, Tally()
        if not seen:
            return 0
        try:
            async with self._postgres.session() as session:
                for (app_id, platform, version), count in sorted(seen.items()):
                    statement = insert(SdkVersionSeen).values(
                        app_id=uuid.UUID(app_id),
                        sdk_platform=platform,
                        sdk_version=version,
                        requests=count,
                    )
                    await session.execute(
                        statement.on_conflict_do_update(
                            index_elements=["app_id", "sdk_platform", "sdk_version"],
                            set_={
                                "requests": SdkVersionSeen.requests + count,
                                "last_seen_at": func.now(),
                            },
                        )
                    )
                await session.commit()
        except Exception:
            self._seen.update(seen)  # PostgreSQL away: keep the counts for the next try
            raise
        return len(seen)

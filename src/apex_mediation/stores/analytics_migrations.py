"""ClickHouse schema migrations: numbered SQL files, applied in order, recorded in the store.

Files are `NNNN_description.sql` in clickhouse_migrations/. Statements end with `;` at the end
of a line. ClickHouse DDL is not transactional, so a migration that fails halfway runs again from
its first statement next time: write each statement to be idempotent (IF NOT EXISTS, IF EXISTS).
"""

from __future__ import annotations

import re
from pathlib import Path

from apex_mediation.stores.analytics import Analytics

MIGRATIONS_DIR = Path(__file__).parent / "clickhouse_migrations"

_MIGRATION_NAME = re.compile(r"^\d{4}_[A-Za-z0-9_]+\.sql$")
_SCHEMA_MIGRATIONS = (
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version String, applied_at DateTime64(3)) ENGINE = MergeTree ORDER BY version"
)


def _migration_files(migrations_dir: Path | None) -> list[Path]:
    folder = MIGRATIONS_DIR if migrations_dir is None else migrations_dir
    return sorted(path for path in folder.iterdir() if _MIGRATION_NAME.match(path.name))


def _statements(script: str) -> list[str]:
    pieces = re.split(r";[ \t]*$", script, flags=re.MULTILINE)
    return [piece.strip() for piece in pieces if _without_comments(piece).strip()]


def _without_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))


async def pending_analytics_migrations(
    store: Analytics, migrations_dir: Path | None = None
) -> list[str]:
    """Names (file stems) of the migrations not yet applied, in the order they would run."""
    await store.command(_SCHEMA_MIGRATIONS)
    applied = {row["version"] for row in await store.query("SELECT version FROM schema_migrations")}
    return [path.stem for path in _migration_files(migrations_dir) if path.stem not in applied]


async def migrate_analytics(store: Analytics, migrations_dir: Path | None = None) -> list[str]:
    """Apply the pending migrations in order; return the names applied."""
    folder = MIGRATIONS_DIR if migrations_dir is None else migrations_dir
    applied: list[str] = []
    for name in await pending_analytics_migrations(store, folder):
        for statement in _statements((folder / f"{name}.sql").read_text()):
            await store.command(statement)
        await store.command(
            "INSERT INTO schema_migrations (version, applied_at) "
            "VALUES ({version:String}, now64(3))",
            {"version": name},
        )
        applied.append(name)
    return applied

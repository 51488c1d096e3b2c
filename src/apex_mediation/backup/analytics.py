"""ClickHouse's half: every table exported in the Native format (types and aggregate states
kept), and restored into an empty store after its migrations, with the materialized views set
aside meanwhile — otherwise restoring a source table would add its rows to the rollups a second
time. Row checksums read each table as merged (FINAL) with aggregate states finalised, so the
figure does not depend on how the parts happen to be merged."""

from __future__ import annotations

from pathlib import Path

from apex_mediation.backup.manifest import BackupError, TableSum
from apex_mediation.stores.analytics import Analytics
from apex_mediation.stores.analytics_migrations import migrate_analytics

FORMAT = "Native"
DIRECTORY = "clickhouse"
MIGRATIONS_TABLE = "schema_migrations"
_MERGING = ("Replacing", "Summing", "Aggregating", "Collapsing", "VersionedCollapsing")


async def _tables(store: Analytics) -> dict[str, str]:
    """Base tables (not views) of the store's database, with their engines."""
    rows = await store.query(
        "SELECT name, engine FROM system.tables WHERE database = {db:String} "
        "AND engine NOT IN ('MaterializedView', 'View') AND NOT is_temporary ORDER BY name",
        {"db": store.database},
    )
    return {str(r["name"]): str(r["engine"]) for r in rows}


async def _checksum_sql(store: Analytics, table: str, engine: str) -> str:
    columns = await store.query(
        "SELECT name, type FROM system.columns WHERE database = {db:String} "
        "AND table = {t:String} ORDER BY position",
        {"db": store.database, "t": table},
    )
    values = ", ".join(
        f"finalizeAggregation(`{c['name']}`)"
        if str(c["type"]).startswith("AggregateFunction")
        else f"`{c['name']}`"
        for c in columns
    )
    final = " FINAL" if any(engine.startswith(kind) for kind in _MERGING) else ""
    return (
        f"SELECT count() AS n, toString(groupBitXor(cityHash64({values}))) AS h "  # noqa: S608
        f"FROM `{store.database}`.`{table}`{final}"
    )


async def table_sums(store: Analytics) -> dict[str, TableSum]:
    sums = {}
    for table, engine in (await _tables(store)).items():
        [row] = await store.query(await _checksum_sql(store, table, engine))
        sums[table] = TableSum(rows=int(row["n"]), checksum=str(row["h"]))
    return sums


async def export(store: Analytics, directory: Path) -> list[Path]:
    target = directory / DIRECTORY
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for table in await _tables(store):
        everything = f"SELECT * FROM `{store.database}`.`{table}`"  # noqa: S608 - catalog names
        data = await store.query_bytes(everything, None, FORMAT)
        path = target / f"{table}.native"
        path.write_bytes(data)
        written.append(path)
    return written


async def is_empty(store: Analytics) -> bool:
    """True when no table other than the migrations' own holds a row."""
    for table in await _tables(store):
        if table == MIGRATIONS_TABLE:
            continue
        counted = f"SELECT count() AS n FROM `{store.database}`.`{table}`"  # noqa: S608
        if int((await store.query(counted))[0]["n"]):
            return False
    return True


async def restore(store: Analytics, directory: Path) -> None:
    await migrate_analytics(store)
    views = await store.query(
        "SELECT name, create_table_query FROM system.tables WHERE database = {db:String} "
        "AND engine = 'MaterializedView' ORDER BY name",
        {"db": store.database},
    )
    for view in views:
        await store.command(f"DROP VIEW `{store.database}`.`{view['name']}`")
    try:
        # The migrations just recorded themselves: their history as it was is restored instead.
        await store.command(f"TRUNCATE TABLE `{store.database}`.`{MIGRATIONS_TABLE}`")
        for table in await _tables(store):
            path = directory / DIRECTORY / f"{table}.native"
            if not path.is_file():
                raise BackupError(f"the backup has no data for ClickHouse table {table}")
            data = path.read_bytes()
            if data:
                await store.insert_bytes(table, data, FORMAT)
    finally:
        for view in views:
            await store.command(str(view["create_table_query"]))

"""The metrics behind the pool-exhaustion, slow-query and memory alerts: the pool's connections
in use against its capacity, each statement's time (a statement over a second lands above the
1.0 bucket), and the memory limit read from the cgroup."""

from __future__ import annotations

from pathlib import Path

import psutil
from prometheus_client import REGISTRY
from sqlalchemy import text

from apex_mediation.observability.process_metrics import memory_limit_bytes
from apex_mediation.stores.postgres import open_postgres


def _value(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


async def test_pool_and_statement_metrics(pg_url: str, tmp_path: Path) -> None:
    capacity = _value("db_pool_capacity")
    postgres = await open_postgres(pg_url, tmp_path, pool_size=2)
    try:
        assert _value("db_pool_capacity") == capacity + 4  # size 2 plus overflow 2
        in_use = _value("db_pool_checked_out")
        count, fast = (
            _value("db_query_duration_seconds_count"),
            _value("db_query_duration_seconds_bucket", {"le": "1.0"}),
        )
        async with postgres.engine.connect() as conn:
            assert _value("db_pool_checked_out") == in_use + 1
            await conn.execute(text("SELECT pg_sleep(1.1)"))
        assert _value("db_pool_checked_out") == in_use
        assert _value("db_query_duration_seconds_count") - count >= 1
        slow = (_value("db_query_duration_seconds_count") - count) - (
            _value("db_query_duration_seconds_bucket", {"le": "1.0"}) - fast
        )
        assert slow == 1  # the sleep, above the slow-query alert's bound
    finally:
        await postgres.close()


def test_the_memory_limit_comes_from_the_cgroup_else_the_machine(tmp_path: Path) -> None:
    v2, v1 = tmp_path / "memory.max", tmp_path / "memory.limit_in_bytes"
    v2.write_text("max\n")
    v1.write_text("536870912\n")
    assert memory_limit_bytes((v2, v1)) == 536_870_912
    v2.write_text("1073741824\n")
    assert memory_limit_bytes((v2, v1)) == 1_073_741_824
    v1.write_text(str(2**63 - 4096))
    assert memory_limit_bytes((tmp_path / "absent", v1)) == psutil.virtual_memory().total

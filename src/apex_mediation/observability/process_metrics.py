"""The process's memory limit, for the memory alert: resident memory (exported by
prometheus_client's process collector) over the limit the container runs under — the cgroup's
(v2, then v1), else the machine's memory."""

from __future__ import annotations

from pathlib import Path

import psutil
from prometheus_client import Gauge

_CGROUP_LIMITS = (
    Path("/sys/fs/cgroup/memory.max"),
    Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
)
# cgroup v1 reports "no limit" as a huge number near 2**63.
_UNLIMITED = 1 << 60


def memory_limit_bytes(paths: tuple[Path, ...] = _CGROUP_LIMITS) -> int:
    for path in paths:
        try:
            raw = path.read_text().strip()
        except OSError:
            continue
        if raw.isdigit() and int(raw) < _UNLIMITED:
            return int(raw)
    return int(psutil.virtual_memory().total)


memory_limit = Gauge(
    "process_memory_limit_bytes", "The memory this process may use (its cgroup's limit, or RAM)"
)
memory_limit.set_function(lambda: float(memory_limit_bytes()))

"""Run the `apex` CLI with a garbage-collector trace (diagnostics for `auction.py --gc-trace`).

Every collection of generation 1 or 2 is appended to LOG as `<unix time> <generation> <ms>`;
nothing else changes. Usage: python bench/gc_trace.py LOG serve --port 8000
"""

from __future__ import annotations

import gc
import sys
import time
from typing import Any

from apex_mediation.cli import main


def install(path: str) -> None:
    log = open(path, "w", buffering=1)  # noqa: SIM115 - open for the life of the process
    started = [0.0]

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        elif info["generation"] >= 1:
            ms = (time.perf_counter() - started[0]) * 1000
            log.write(f"{time.time():.3f} {info['generation']} {ms:.2f}\n")

    gc.callbacks.append(callback)


def read(path: str, since: float, until: float) -> list[tuple[int, float]]:
    """(generation, pause ms) of the collections logged between two unix times."""
    found = []
    with open(path) as handle:
        for line in handle:
            parts = line.split()
            if len(parts) == 3 and since <= float(parts[0]) <= until:
                found.append((int(parts[1]), float(parts[2])))
    return found


if __name__ == "__main__":
    install(sys.argv[1])
    sys.argv = ["apex", *sys.argv[2:]]
    main()

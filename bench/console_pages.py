"""Server time of every console page on the demo data set: `make bench-console`.

`apex demo` runs in its own process (apex_mediation.demo.process) with simulated SDK traffic sent
first so the reports have data; then each page is requested sequentially over loopback by a
logged-in client, and in the same run `/health` (the HTTP stack's floor on this machine) is timed
the same way as the baseline. The time measured is request to last byte, which over loopback is
the server's time plus well under a millisecond. Prints a table, then one JSON object.

    .venv/bin/python bench/console_pages.py [--requests 30] [--traffic-s 30]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time

import httpx

from apex_mediation.demo.process import demo_server

PAGES = [
    "/dashboard",
    "/dashboard?range=30d",
    "/dashboard/charts.json?range=30d",
    "/dashboard/realtime",
    "/apps",
    "/placements",
    "/network-accounts",
    "/reports",
    "/auctions",
    "/settings/team",
    "/settings/api-keys",
    "/settings/notifications",
    "/apps/new",
    "/placements/new",
    "/network-accounts/new",
    "/reports?range=30d",
    "/password-reset",
]
OPERATOR_PAGES = ["/operator", "/operator/health"]
# A listing and the pattern of its first item's page (not /apps/new and the like).
DETAILS = {
    "/apps": r"/apps/[0-9a-f-]{36}",
    "/placements": r"/placements/[0-9a-f-]{36}",
    "/auctions": r"/auctions/[0-9a-zA-Z_-]{8,}",
}
BUDGET_MS = 200.0


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def _time(http: httpx.Client, path: str, requests: int) -> tuple[float, float, int]:
    samples = []
    status = 0
    for _ in range(requests):
        started = time.perf_counter()
        response = http.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        status = response.status_code
    return statistics.median(samples), _p95(samples), status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--traffic-s", type=float, default=30)
    args = parser.parse_args()
    with demo_server() as server:
        server.simulate(rate=20, duration_s=args.traffic_s)
        time.sleep(2)
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            login = http.post(
                "/login",
                data={"email": server.credentials.email, "password": server.credentials.password},
            )
            assert login.status_code == 303, login.text
            pages = list(PAGES)
            for listing, pattern in DETAILS.items():
                found = re.search(rf'href="({pattern})"', http.get(listing).text)
                if found:
                    pages.append(found.group(1))
            for path in pages:  # warm up: templates compiled, pools filled
                http.get(path)
            rows = {path: _time(http, path, args.requests) for path in pages}
            baseline = _time(http, "/health", args.requests)
        email, password = server.create_operator()
        with httpx.Client(base_url=server.base_url, timeout=30) as ops:
            login = ops.post("/login", data={"email": email, "password": password})
            assert login.status_code == 303, login.text
            pages = list(OPERATOR_PAGES)
            found = re.search(r'href="(/operator/publishers/[^"?/]+)"', ops.get("/operator").text)
            if found:
                pages.append(found.group(1))
            for path in pages:
                ops.get(path)
            rows.update({path: _time(ops, path, args.requests) for path in pages})
    print(f"{'page':44} {'status':>6} {'p50 ms':>8} {'p95 ms':>8}")
    print(f"{'/health (baseline)':44} {baseline[2]:>6} {baseline[0]:8.1f} {baseline[1]:8.1f}")
    for path, (p50, p95, status) in rows.items():
        print(f"{path:44} {status:>6} {p50:8.1f} {p95:8.1f}")
    worst = max(rows, key=lambda path: rows[path][1])
    result = {
        "pages": len(rows),
        "worst_page": worst,
        "worst_p95_ms": round(rows[worst][1], 1),
        "baseline_p95_ms": round(baseline[1], 1),
        "all_within_budget": all(p95 <= BUDGET_MS for _, p95, _ in rows.values()),
        "non_200": sorted(path for path, (_, _, status) in rows.items() if status != 200),
        "p95_ms": {path: round(p95, 1) for path, (_, p95, _) in rows.items()},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Benchmark of invalid-traffic (IVT) detection: labelled traffic in, precision and recall out.

One run, on this machine, everything on 127.0.0.1:
- Apex as in production: `apex serve` with APEX_ENV=production, its own data dir (embedded chDB),
  a fresh PostgreSQL database, the SDK rate limits out of the way (APEX_SDK_RATE_PER_IP/APP very
  high, so that IVT sees the traffic rather than a 429), private bidders allowed;
- local OpenRTB bidders that always bid (bench/bidders.py), in their own process;
- set up through the public API: an Android app (interstitial, banner and rewarded placements),
  an iOS app (interstitial, rewarded) and a web app (allowed origin, a banner placement), each
  placement bidding to those bidders; one address put on the platform block-list (a row in
  ivt_list_entries, before the server starts);
- demo/ivt_mix.py's IvtMix for --duration-s at --rate auction requests/s: 80% honest installs,
  the rest spread over the invalid kinds, every answered auction and accepted beacon labelled.
Then the server is stopped with SIGTERM (which ships the ingest backlog), its chDB is read in a
child process (chDB serves one data path per process), the labels are joined to the `auctions`
and `events` rows, and ivt/measure.py's figures are printed: a table, then one JSON object as
the last line of stdout. Targets: fp_rate <= 0.005, givt_recall >= 0.9, sivt_recall >= 0.7, and
no labelled record missing from ClickHouse (the harness's own check).

    .venv/bin/python bench/ivt.py [--duration-s 60] [--rate 40] [--seed 7] [--quick]

--quick: 15 s of traffic (a smoke run of about a minute, set-up and the late beacons included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from apex_mediation.demo.ivt_mix import IvtMix, IvtMixReport
from apex_mediation.ivt.measure import Measurement, measure
from auction import (
    APEX,
    BENCH,
    PYTHON,
    UNLIMITED,
    Processes,
    _check,
    apex_env,
    bench_app,
    free_port,
    prepare_apex,
    read_line,
    run_bench,
    say,
    wait_http,
)

BLOCKLISTED_IP = "81.2.69.160"  # outside every residential pool IvtMix draws honest addresses from
WEB_ORIGIN = "https://news.example"
GEO_HEADER = os.environ.get("APEX_GEO_COUNTRY_HEADER", "cf-ipcountry")
TARGETS = {"fp_rate": 0.005, "givt_recall": 0.9, "sivt_recall": 0.7}
STOP_TIMEOUT_S = 60.0


@dataclass
class Setup:
    sdk_key: str
    placements: dict[str, str]  # Android: id -> format
    ios_sdk_key: str
    ios_placements: dict[str, str]
    web_app_id: str
    web_placements: dict[str, str]


# -- set-up -------------------------------------------------------------------------------------


def block_address(database_url: str | None, data_dir: Path, address: str) -> None:
    """Put `address` on the platform-wide block-list before the server starts (it loads its IVT
    configuration at start). Embedded PostgreSQL: started here for the insert, stopped after."""
    embedded = None
    if database_url is None:
        from apex_mediation.stores.postgres import start_embedded

        embedded, database_url = start_embedded(data_dir / "postgres")
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO ivt_list_entries (kind, value, action, publisher_id, note) "
                "VALUES ('ip', %s, 'block', NULL, %s)",
                (address, "bench/ivt.py: the blocklisted actor's address"),
            )
    finally:
        if embedded is not None and embedded.started_here:
            embedded.stop()


def setup_apex(base: str, endpoints: list[str]) -> Setup:
    """Apps, SDK keys and placements through the public API, all bidding to `endpoints`."""
    lines = [{"network": "openrtb", "params": {"endpoint": url}} for url in endpoints]
    with httpx.Client(base_url=base, timeout=10) as http:
        android_id = bench_app(http)

        def app(body: dict[str, Any]) -> str:
            created = http.post("/api/v1/apps", json=body)
            _check(created, 201)
            return str(created.json()["id"])

        def sdk_key(app_id: str) -> str:
            created = http.post(
                "/api/v1/api-keys", json={"name": "bench-sdk", "scopes": ["sdk"], "appId": app_id}
            )
            _check(created, 201)
            return str(created.json()["key"])

        def placements(app_id: str, formats: tuple[str, ...]) -> dict[str, str]:
            made = {}
            for fmt in formats:
                created = http.post(
                    "/api/v1/placements",
                    json={
                        "name": f"bench-{fmt}",
                        "appId": app_id,
                        "format": fmt,
                        "config": {"timeoutMs": 300, "bidding": lines},
                    },
                )
                _check(created, 201)
                made[str(created.json()["id"])] = fmt
            return made

        ios_id = app({"name": "Bench iOS", "platform": "ios", "bundleId": "com.example.pq"})
        web_id = app(
            {
                "name": "Bench site",
                "platform": "web",
                "domain": "news.example",
                "allowedOrigins": [WEB_ORIGIN],
            }
        )
        return Setup(
            sdk_key=sdk_key(android_id),
            placements=placements(android_id, ("interstitial", "banner", "rewarded")),
            ios_sdk_key=sdk_key(ios_id),
            ios_placements=placements(ios_id, ("interstitial", "rewarded")),
            web_app_id=web_id,
            web_placements=placements(web_id, ("banner",)),
        )


def probe(setup: Setup, which: str, n: int) -> tuple[str, dict[str, Any], dict[str, str]]:
    """An auction as an honest install would ask, from a new device and address each time, so
    that polling never looks like invalid traffic (the IVT detector blocks that: no fill)."""
    address = f"24.{n // 250 % 250 + 1}.{n % 250 + 1}.{17 + n % 200}"  # outside IvtMix's pools
    ifa = str(uuid.uuid4())
    headers = {"X-Forwarded-For": address, GEO_HEADER: "US"}
    if which == "android":
        placement_id, fmt = list(setup.placements.items())[-1]
        headers.update(
            {
                "X-Api-Key": setup.sdk_key,
                "User-Agent": "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/AP1A.240305.019)",
            }
        )
        body: dict[str, Any] = {
            "request_id": f"probe-{uuid.uuid4().hex}",
            "placement_id": placement_id,
            "ad_type": fmt,
            "device_info": {
                "os": "android",
                "os_version": "14",
                "make": "Google",
                "model": "Pixel 8",
                "screen_width": 1080,
                "screen_height": 2400,
                "language": "en-US",
                "timezone": "America/New_York",
            },
            "user_info": {"limit_ad_tracking": False, "advertising_id": ifa},
        }
        return "/v1/auction", body, headers
    if which == "ios":
        placement_id, fmt = list(setup.ios_placements.items())[-1]
        headers.update(
            {
                "X-Api-Key": setup.ios_sdk_key,
                "User-Agent": "PuzzleQuest/120 CFNetwork/1494.0.7 Darwin/23.4.0",
            }
        )
        body = {
            "requestId": f"probe-{uuid.uuid4().hex}",
            "placementId": placement_id,
            "adType": fmt,
            "device": {
                "platform": "iOS",
                "osVersion": "17.4",
                "model": "iPhone15,2",
                "language": "en-US",
                "timezone": "America/New_York",
                "screenWidth": 1179,
                "screenHeight": 2556,
                "screenScale": 3.0,
                "attStatus": 3,
                "idfa": ifa.upper(),
            },
        }
        return "/v1/auction", body, headers
    headers.update(
        {
            "Origin": WEB_ORIGIN,
            "User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        }
    )
    placement = list(setup.web_placements)[-1]
    body = {
        "request": {"placement": placement, "adType": "banner", "width": 300, "height": 250},
        "meta": {"appId": setup.web_app_id},
    }
    return "/auction", body, headers


def wait_for_fills(base: str, setup: Setup, timeout_s: float = 30) -> None:
    """The server refreshes its config snapshot every second: wait until every app's last
    placement fills (these probes are unlabelled, so measure.py ignores them)."""
    deadline = time.monotonic() + timeout_s
    n = 0
    with httpx.Client(base_url=base, timeout=5) as http:
        for which in ("android", "ios", "web"):
            while True:
                n += 1
                path, body, headers = probe(setup, which, n)
                response = http.post(path, json=body, headers=headers)
                answer = response.json() if response.status_code == 200 else {}
                if answer.get("winner") or answer.get("fill"):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{which} auction: no fill within {timeout_s:.0f} s "
                        f"(last: {response.status_code} {response.text[:200]})"
                    )
                time.sleep(0.5)


# -- traffic ------------------------------------------------------------------------------------


async def send_traffic(
    base: str, setup: Setup, args: argparse.Namespace, labels_path: Path
) -> tuple[IvtMix, IvtMixReport]:
    limits = httpx.Limits(max_connections=128, max_keepalive_connections=128)
    async with httpx.AsyncClient(base_url=base, timeout=10, limits=limits) as client:
        mix = IvtMix(
            client=client,
            sdk_key=setup.sdk_key,
            placements=setup.placements,
            seed=args.seed,
            web_placements=setup.web_placements,
            web_app_id=setup.web_app_id,
            web_origin=WEB_ORIGIN,
            ios_sdk_key=setup.ios_sdk_key,
            ios_placements=setup.ios_placements,
            blocklisted_ip=BLOCKLISTED_IP,
            geo_header=GEO_HEADER,
            labels_path=labels_path,
        )
        report = await mix.run(args.rate, args.duration_s, max_requests=args.max_requests)
    return mix, report


# -- reading ClickHouse ---------------------------------------------------------------------------


def read_rows(clickhouse_dir: Path, out: Path) -> None:
    """(In a child process) the stopped server's auctions and events, with their verdicts."""
    from apex_mediation.stores.analytics import ChdbAnalytics

    async def query() -> dict[str, list[dict[str, Any]]]:
        store = await ChdbAnalytics.open(clickhouse_dir, "apex")
        try:
            auctions = await store.query(
                "SELECT auction_id, request_id, ivt, ivt_reasons, no_fill_reason "
                "FROM auctions FINAL"
            )
            events = await store.query(
                "SELECT auction_id, event, ivt, ivt_reasons FROM events FINAL"
            )
        finally:
            await store.close()
        return {"auctions": auctions, "events": events}

    out.write_text(json.dumps(asyncio.run(query()), default=str))


def rows_of(work: Path) -> dict[str, list[dict[str, Any]]]:
    out = work / "rows.json"
    clickhouse = work / "data" / "clickhouse"
    done = subprocess.run(
        [PYTHON, str(Path(__file__).resolve()), "--read-chdb", str(clickhouse), str(out)],
        cwd=BENCH,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"reading chDB failed:\n{done.stdout}{done.stderr}")
    rows: dict[str, list[dict[str, Any]]] = json.loads(out.read_text())
    return rows


# -- report -------------------------------------------------------------------------------------


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def print_table(m: Measurement, report: IvtMixReport, targets: list[tuple[str, str, bool]]) -> None:
    print()
    head = (
        f"{'label':<22} {'class':<6} {'requests':>8} {'records':>7} {'auctions':>8} "
        f"{'events':>6} {'flagged':>7} {'missing':>7} {'recall/fp':>9}"
    )
    print(head)
    print("-" * len(head))
    for name, figures in m.labels.items():
        auctions = figures.by_record.get("auction")
        n_auctions = auctions.records if auctions else 0
        shown = figures.flagged_share if name == "honest" else figures.recall
        print(
            f"{name:<22} {figures.category:<6} {report.requests_by_kind.get(name, 0):>8} "
            f"{figures.records:>7} {n_auctions:>8} {figures.records - n_auctions:>6} "
            f"{figures.flagged:>7} {figures.missing:>7} {_f(shown):>9}"
        )
    print(
        "\nrequests: auction requests the kind's actors sent (fast_click, fast_reward and"
        "\nreplayed_token label their auctions honest, so their requests count under the kind"
        "\nbut their auctions under honest); records: labelled records found in ClickHouse;"
        "\nrecall/fp: flagged / records (for honest: the false-positive rate)."
    )
    print()
    head = (
        f"{'reason':<22} {'class':<6} {'carried':>7} {'precision':>9} {'labelled':>8} {'recall':>7}"
    )
    print(head)
    print("-" * len(head))
    for reason in m.reasons.values():
        print(
            f"{reason.reason:<22} {reason.category:<6} {reason.carried:>7} "
            f"{_f(reason.precision):>9} {reason.labelled:>8} {_f(reason.recall):>7}"
        )
    print(
        "\ncarried: records whose ivt_reasons hold the reason; precision: share of those labelled"
        "\ninvalid; recall: of the records labelled with the reason, the share carrying it."
    )
    if report.skipped:
        print("\nskipped kinds: " + "; ".join(f"{k} ({why})" for k, why in report.skipped.items()))
    print()
    print(f"{'metric':<14} {'value':>8}   target")
    print("-" * 40)
    for key, target, ok in targets:
        value = getattr(m, key, None)
        text = _f(value) if isinstance(value, float) or value is None else str(value)
        print(f"{key:<14} {text:>8}   {target:<10} {'ok' if ok else 'MISSED'}")
    print()


# -- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="IVT detection: precision and recall")
    parser.add_argument("--duration-s", type=float, default=60.0, help="seconds of traffic")
    parser.add_argument("--rate", type=float, default=40.0, help="auction requests per second")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-requests", type=int, default=50_000)
    parser.add_argument("--quick", action="store_true", help="15 s of traffic: a smoke run")
    parser.add_argument("--read-chdb", nargs=2, metavar=("DIR", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.duration_s = min(args.duration_s, 15.0)
    if args.rate <= 0 or args.duration_s <= 0:
        parser.error("--rate and --duration-s must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.read_chdb:
        read_rows(Path(args.read_chdb[0]), Path(args.read_chdb[1]))
        return 0
    return run_bench(args, _run, "apex-bench-ivt-")


def _run(args: argparse.Namespace, work: Path, procs: Processes, database_url: str | None) -> int:
    started = time.monotonic()
    port = free_port()
    env = {
        **apex_env(work, database_url, port, secrets.token_urlsafe(48)),
        "APEX_GEO_COUNTRY_HEADER": GEO_HEADER,
        "APEX_SDK_RATE_PER_IP": UNLIMITED,
        "APEX_SDK_RATE_PER_APP": UNLIMITED,
        # Production refuses bidder calls to loopback (SSRF guard); the bidders live there.
        "APEX_BIDDERS_ALLOW_PRIVATE": "true",
    }
    prepare_apex(env, work, database_url)
    block_address(database_url, work / "data", BLOCKLISTED_IP)

    bidders = procs.start(
        "bidders",
        [PYTHON, str(BENCH / "bidders.py"), "--count", "2", "--latency-ms", "5"],
        env=dict(os.environ),
        capture_stdout=True,
    )
    endpoints: dict[str, str] = json.loads(read_line(bidders, 30))["endpoints"]
    apex = procs.start("apex", [APEX, "serve", "--port", str(port)], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/health", 120, apex)
        setup = setup_apex(base, [url for name, url in endpoints.items() if name != "hang"])
        wait_for_fills(base, setup)
    except Exception:
        say(procs.log_tail("apex"))
        raise
    say(
        f"set up in {time.monotonic() - started:.1f} s; "
        f"sending {args.rate:g}/s for {args.duration_s:g} s"
    )

    mix, report = asyncio.run(send_traffic(base, setup, args, work / "labels.jsonl"))
    say(
        f"  {report.requests} auction requests, {report.fills} fills, {report.beacons} beacons, "
        f"{report.errors} errors, {report.unfinished} unfinished, in {report.duration_s:.0f} s"
    )

    say("  stopping Apex (SIGTERM: it ships its ingest backlog) ...")
    apex.send_signal(signal.SIGTERM)
    try:
        exit_code: int | None = apex.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        exit_code = None
    procs.stop("apex")
    if exit_code != 0:
        say(procs.log_tail("apex"))
    rows = rows_of(work)
    m = measure(mix.labels, rows["auctions"], rows["events"])

    def at_most(value: float | None, bound: float) -> bool:
        return value is not None and value <= bound

    def at_least(value: float | None, bound: float) -> bool:
        return value is not None and value >= bound

    targets = [
        ("fp_rate", f"<= {TARGETS['fp_rate']}", at_most(m.fp_rate, TARGETS["fp_rate"])),
        (
            "givt_recall",
            f">= {TARGETS['givt_recall']}",
            at_least(m.givt_recall, TARGETS["givt_recall"]),
        ),
        (
            "sivt_recall",
            f">= {TARGETS['sivt_recall']}",
            at_least(m.sivt_recall, TARGETS["sivt_recall"]),
        ),
        ("missing", "= 0", m.missing == 0),
    ]
    print_table(m, report, targets)
    summary: dict[str, Any] = {
        "fp_rate": m.fp_rate,
        "givt_recall": m.givt_recall,
        "sivt_recall": m.sivt_recall,
        "precision": m.precision,
        "records": m.records,
        "missing": m.missing,
        "flagged": m.flagged,
        "honest_records": m.honest.records,
        "givt_records": m.givt.records,
        "sivt_records": m.sivt.records,
        "duplicate_labels": m.duplicate_labels,
        "labels": {
            name: {
                "records": f.records,
                "flagged": f.flagged,
                "missing": f.missing,
                "recall": f.flagged_share if name == "honest" else f.recall,
            }
            for name, f in m.labels.items()
        },
        "reasons": {
            name: {
                "precision": r.precision,
                "recall": r.recall,
                "carried": r.carried,
                "labelled": r.labelled,
            }
            for name, r in m.reasons.items()
        },
        "requests": report.requests,
        "answered": report.answered,
        "fills": report.fills,
        "beacons": report.beacons,
        "errors": report.errors,
        "statuses": {str(k): v for k, v in sorted(report.statuses.items())},
        "unfinished": report.unfinished,
        "skipped": sorted(report.skipped),
        "rows": {"auctions": len(rows["auctions"]), "events": len(rows["events"])},
        "no_fill_reasons": dict(
            Counter(str(r.get("no_fill_reason") or "") for r in rows["auctions"]).most_common(8)
        ),
        "clean_exit": exit_code == 0,
        "rate": args.rate,
        "duration_s": args.duration_s,
        "seed": args.seed,
        "targets_met": all(ok for _, _, ok in targets),
        "total_s": round(time.monotonic() - started, 1),
    }
    say(f"total {summary['total_s']:.0f} s")
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

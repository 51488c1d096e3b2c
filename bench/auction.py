"""Benchmark of Apex's auction endpoint against the Python ceiling for the same work.

One run, on this machine, everything on 127.0.0.1:
- K fake OpenRTB bidders (bench/bidders.py: always bid, fixed latency) plus one that never
  answers, in their own process;
- Apex as in production: `apex serve` with APEX_ENV=production, a fresh PostgreSQL database,
  set up through the public API (signup, app, SDK key, placements);
- the baseline (bench/baseline_app.py): a bare ASGI app doing the same fan-out to the same
  bidders with aiohttp, served by uvicorn the way `apex serve` serves Apex;
- a load generator (wrk, or a Python fallback).

Phases (Apex and the baseline alternate): a closed-loop max-rate ladder at c/4, c/2 and c
connections (--concurrency c, steps of --duration-s / 2; the best rate of filled auctions
counts); then, for --duration-s each, both at half of Apex's max rate (latency), and both with
the bidder that never answers added (tmax). Apex's circuit breakers can open under load; before
each Apex phase their cooldown is waited out so that every phase starts alike.
Prints a table, then one JSON object as the last line.

    .venv/bin/python bench/auction.py [--bidders 5] [--bidder-latency-ms 20] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gc_trace
import httpx
import loadgen
import psutil
import psycopg
from loadgen import LoadResult

from apex_mediation.demo.simulator import SDK_USER_AGENT

BENCH = Path(__file__).resolve().parent
PYTHON = sys.executable
APEX = str(Path(sys.executable).parent / "apex")
PG_ADMIN_URL = os.environ.get(
    "APEX_BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PASSWORD = "bench-password-" + secrets.token_hex(8)
UNLIMITED = "1000000000"


def android_body(placement_id: str) -> dict[str, Any]:
    """The Android SDK's request (as tests/sdk/test_mobile_auction.py), without `adapters`."""
    return {
        "request_id": "bench-req-1",
        "placement_id": placement_id,
        "ad_type": "interstitial",
        "floor_cpm": 0.5,
        "timeout_ms": 800,
        "auction_type": "header_bidding",
        "metadata": {
            "gdpr_applies": "0",
            "us_privacy": "1YNN",
            "coppa": "0",
            "limit_ad_tracking": "0",
        },
        "device_info": {
            "os": "android",
            "os_version": "14",
            "make": "Google",
            "model": "Pixel 8",
            "screen_width": 1080,
            "screen_height": 2400,
            "language": "en",
            "timezone": "Europe/Berlin",
            "connection_type": "wifi",
            "ip": "203.0.113.7",
            "user_agent": "Dalvik/2.1.0",
        },
        # No advertising id: every request of the run would be one device at hundreds of
        # requests a second, which the invalid-traffic checks block (as they should).
        "user_info": {"limit_ad_tracking": False},
    }


# -- processes ---------------------------------------------------------------------------------


class Processes:
    """Children in their own sessions (a Ctrl-C reaches only us); stopped in reverse order."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.running: list[tuple[str, subprocess.Popen[str]]] = []

    def start(
        self, name: str, args: list[str], env: dict[str, str], capture_stdout: bool = False
    ) -> subprocess.Popen[str]:
        log = (self.log_dir / f"{name}.log").open("w")
        proc = subprocess.Popen(
            args,
            env=env,
            cwd=self.log_dir,
            stdout=subprocess.PIPE if capture_stdout else log,
            stderr=log,
            text=True,
            start_new_session=True,
        )
        self.running.append((name, proc))
        return proc

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text().splitlines()[-lines:]) if path.exists() else ""

    def stop(self, name: str) -> None:
        for entry in [e for e in self.running if e[0] == name]:
            _terminate(entry[1])
            self.running.remove(entry)

    def stop_all(self) -> None:
        while self.running:
            _, proc = self.running.pop()
            _terminate(proc)


def _terminate(proc: subprocess.Popen[str], grace_s: float = 15) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read_line(proc: subprocess.Popen[str], timeout_s: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
    if not ready:
        raise RuntimeError("no answer from child process")
    return proc.stdout.readline()


def wait_http(url: str, timeout_s: float, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited ({proc.returncode})")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code < 500:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up within {timeout_s:.0f} s")


# -- database ------------------------------------------------------------------------------------


def local_postgres() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            pass
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=2):
            return True
    except (OSError, psycopg.Error):
        return False


@contextlib.contextmanager
def bench_database() -> Iterator[str | None]:
    """A fresh database on the local server (dropped after), or None: embedded PostgreSQL."""
    if not local_postgres():
        yield None
        return
    name = f"apex_bench_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


# -- Apex setup through the public API -------------------------------------------------------


@dataclass
class ApexSetup:
    sdk_key: str
    placement_id: str  # the K bidders
    hung_placement_id: str  # the K bidders and the one that never answers


def bench_app(http: httpx.Client) -> str:
    """Signup, a management key (left in `http`'s headers) and an Android app, through the
    public API; the app's id."""
    signup = http.post(
        "/api/v1/auth/signup",
        json={
            "email": f"bench-{secrets.token_hex(4)}@example.com",
            "password": PASSWORD,
            "publisherName": "Bench Publisher",
        },
    )
    _check(signup, 201)
    # Production cookies are Secure, which httpx does not send over http://: send it by hand.
    session = next(
        c.split(";", 1)[0] for c in signup.headers.get_list("set-cookie") if "session" in c
    )
    management = http.post(
        "/api/v1/api-keys",
        json={"name": "bench-management", "scopes": ["management"]},
        headers={"Cookie": session, "X-CSRF-Token": signup.json()["csrfToken"]},
    )
    _check(management, 201)
    http.headers["Authorization"] = f"Bearer {management.json()['key']}"
    app = http.post(
        "/api/v1/apps",
        json={"name": "Bench", "platform": "android", "bundleId": "com.example.bench"},
    )
    _check(app, 201)
    return str(app.json()["id"])


def setup_apex(base: str, endpoints: dict[str, str], tmax_ms: int) -> ApexSetup:
    with httpx.Client(base_url=base, timeout=10) as http:
        app_id = bench_app(http)
        sdk = http.post(
            "/api/v1/api-keys", json={"name": "bench-sdk", "scopes": ["sdk"], "appId": app_id}
        )
        _check(sdk, 201)

        def placement(name: str, urls: list[str]) -> str:
            lines = [{"network": "openrtb", "params": {"endpoint": url}} for url in urls]
            created = http.post(
                "/api/v1/placements",
                json={
                    "name": name,
                    "appId": app_id,
                    "format": "interstitial",
                    "config": {"timeoutMs": tmax_ms, "bidding": lines},
                },
            )
            _check(created, 201)
            return str(created.json()["id"])

        normal = [url for name, url in endpoints.items() if name != "hang"]
        # The hung placement first: once the normal one fills, the snapshot holds both.
        hung = placement("bench-hung", [*normal, endpoints["hang"]])
        return ApexSetup(sdk.json()["key"], placement("bench", normal), hung)


def _check(response: httpx.Response, status: int) -> None:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url}: "
            f"{response.status_code} {response.text[:300]}"
        )


def wait_for_fill(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> None:
    """The server refreshes its config snapshot every second: wait until an auction fills."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        response = httpx.post(url, content=body, headers=headers, timeout=5)
        if response.status_code == 200 and response.json().get("winner"):
            return
        last = f"{response.status_code} {response.text[:200]}"
        time.sleep(0.3)
    raise RuntimeError(f"{url}: no filled auction within {timeout_s:.0f} s (last: {last})")


# -- measuring ---------------------------------------------------------------------------------

OTHER_CPU_WARN_PCT = 20.0  # CPU used by other processes that makes a run unclean
BREAKER_COOLDOWN_S = 11.0  # Breaker.cooldown_s (10 s) and a margin


@dataclass
class Phase:
    name: str
    server: str
    target_rps: float | None
    connections: int
    result: LoadResult
    cpu: dict[str, float]  # % of one core, per process group, over the phase
    apex: dict[str, float]  # Apex's own counters over the phase (breakers, bidder timeouts)
    gc: list[tuple[int, float]]  # Apex's gen 1/2 collections (with --gc-trace)

    @property
    def other_cpu(self) -> float:
        """CPU used on the machine by anything but the servers, bidders and load generator."""
        ours = sum(v for k, v in self.cpu.items() if k != "machine")
        return max(0.0, self.cpu.get("machine", ours) - ours)

    @property
    def fill_rps(self) -> float:
        r = self.result
        return r.status.get("200", 0) / r.duration_s if r.duration_s else 0.0


class CpuMeter:
    """CPU time of the server processes and of the load generator (waited children)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}

    def sample(self) -> dict[str, float]:
        times = {}
        for name, proc in self.procs.items():
            with contextlib.suppress(psutil.Error):
                t = proc.cpu_times()
                times[name] = t.user + t.system
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        times["loadgen"] = usage.ru_utime + usage.ru_stime
        m = psutil.cpu_times()  # guest time is already part of user time on Linux
        unused = ("idle", "iowait", "guest", "guest_nice")
        times["machine"] = sum(m) - sum(getattr(m, name, 0.0) for name in unused)
        if not loadgen.wrk_available():  # the Python generator runs in this process
            own = resource.getrusage(resource.RUSAGE_SELF)
            times["loadgen"] += own.ru_utime + own.ru_stime
        return times


def apex_counters(base: str) -> dict[str, float]:
    """Breaker openings and bidder calls by outcome, from Apex's /metrics."""
    found = {"circuit_opened": 0.0, "bidder_timeout": 0.0, "bidder_bid": 0.0}
    with contextlib.suppress(httpx.HTTPError):
        for line in httpx.get(f"{base}/metrics", timeout=5).text.splitlines():
            if line.startswith("auction_circuit_opened_total{"):
                found["circuit_opened"] += float(line.rsplit(" ", 1)[1])
            elif line.startswith("auction_bidder_calls_total{"):
                for outcome in ("timeout", "bid"):
                    if f'outcome="{outcome}"' in line:
                        found[f"bidder_{outcome}"] += float(line.rsplit(" ", 1)[1])
    return found


class Bench:
    def __init__(
        self,
        args: argparse.Namespace,
        meter: CpuMeter,
        apex_base: str,
        probe_body: bytes,
        gc_log: Path | None,
    ) -> None:
        self.args = args
        self.meter = meter
        self.apex_base = apex_base
        self.probe_body = probe_body  # an auction on the normal placement
        self.gc_log = gc_log
        self.phases: list[Phase] = []
        self._recover_at: float | None = None  # when Apex's opened breakers may probe again

    def run(
        self,
        name: str,
        server: str,
        url: str,
        body: bytes,
        headers: dict[str, str],
        duration_s: float,
        connections: int,
        rate: float | None = None,
    ) -> LoadResult:
        if server == "apex":
            self._recover(url, headers)
        label = f"{name} / {server}" + (f" @ {rate:.0f}/s" if rate else f" (c={connections})")
        say(f"  {label} for {duration_s:.0f} s ...")
        counters = apex_counters(self.apex_base) if server == "apex" else {}
        cpu_before, started, wall = self.meter.sample(), time.monotonic(), time.time()
        result = loadgen.run(url, body, headers, duration_s, connections, rate)
        cpu_after, elapsed = self.meter.sample(), time.monotonic() - started
        cpu = {k: 100 * (v - cpu_before.get(k, v)) / elapsed for k, v in cpu_after.items()}
        apex: dict[str, float] = {}
        if server == "apex":
            after = apex_counters(self.apex_base)
            apex = {k: after[k] - counters.get(k, 0) for k in after}
            if apex["circuit_opened"]:
                self._recover_at = time.monotonic() + BREAKER_COOLDOWN_S
        gc = gc_trace.read(str(self.gc_log), wall, time.time()) if self.gc_log else []
        self.phases.append(Phase(name, server, rate, connections, result, cpu, apex, gc))
        time.sleep(0.5 if self.args.quick else 1.0)  # let connections and timers drain
        return result

    def _recover(self, url: str, headers: dict[str, str]) -> None:
        """Breakers opened in the last Apex phase: wait out their cooldown, then let a few
        sequential auctions probe (and close) them, so that each phase starts alike."""
        if self._recover_at is None:
            return
        wait = self._recover_at - time.monotonic()
        if wait > 0:
            say(f"  (Apex opened circuit breakers: waiting {wait:.0f} s for their cooldown)")
            time.sleep(wait)
        self._recover_at = None
        for _ in range(3):
            with contextlib.suppress(httpx.HTTPError):
                httpx.post(
                    url,
                    content=self.probe_body,
                    headers={"Content-Type": "application/json", **headers},
                    timeout=5,
                )


def paced_connections(rate: float, expected_ms: float) -> int:
    """Enough connections for the schedule: ~3x the requests expected in flight."""
    return max(8, min(512, math.ceil(rate * expected_ms / 1000 * 3)))


# -- report -----------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def print_table(
    bench: Bench, summary: dict[str, Any], targets: list[tuple[str, str, bool]]
) -> None:
    gc_cols = bench.gc_log is not None
    head = (
        f"{'phase':<6} {'server':<8} {'conns':>5} {'target/s':>8} {'answers/s':>9} "
        f"{'fills/s':>7} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'204':>5} {'non2xx':>6} {'5xx':>3} {'sockerr':>7} "
        f"{'cpu% srv':>8} {'bidders':>7} {'loadgen':>7} {'other':>5} {'brk open':>8} {'bid tmo':>7}"
        + (f" {'gc2 n':>5} {'gc2 max':>7}" if gc_cols else "")
    )
    print()
    print(head)
    print("-" * len(head))
    for p in bench.phases:
        r = p.result
        gen2 = [ms for gen, ms in p.gc if gen == 2]
        line = (
            f"{p.name:<6} {p.server:<8} {p.connections:>5} "
            f"{_fmt(p.target_rps, 0) if p.target_rps else 'max':>8} {_fmt(r.rps, 0):>9} "
            f"{_fmt(p.fill_rps, 0):>7} {_fmt(r.p50_ms):>7} {_fmt(r.p90_ms):>7} "
            f"{_fmt(r.p99_ms):>7} {_fmt(r.max_ms):>7} {r.status.get('204', 0):>5} "
            f"{r.non_2xx:>6} {r.errors_5xx:>3} {r.socket_errors:>7} "
            f"{_fmt(p.cpu.get(p.server), 0):>8} {_fmt(p.cpu.get('bidders'), 0):>7} "
            f"{_fmt(p.cpu.get('loadgen'), 0):>7} {_fmt(p.other_cpu, 0):>5} "
            f"{_fmt(p.apex.get('circuit_opened'), 0) if p.apex else '':>8} "
            f"{_fmt(p.apex.get('bidder_timeout'), 0) if p.apex else '':>7}"
        )
        if gc_cols:
            line += f" {len(gen2) if p.server == 'apex' else '':>5} "
            line += f"{_fmt(max(gen2), 0) if gen2 and p.server == 'apex' else '':>7}"
        print(line)
    print(
        "\nanswers/s: all responses; fills/s: 200 with a winner (every bidder always bids, so a"
        "\n204 means the server called no bidder in time); brk open / bid tmo: Apex's own"
        "\ncircuit-breaker openings and bidder timeouts (/metrics); cpu%: of one core; other:"
        "\nCPU used by other processes on the machine (should be ~0 for a clean run)."
    )
    other = summary.get("other_cpu_pct_max", 0)
    if other > OTHER_CPU_WARN_PCT:
        print(
            f"\nWARNING: other processes used up to {other:.0f}% of a core during a phase: "
            "these figures are not from a quiet machine."
        )
    print()
    print(f"{'metric':<22} {'value':>10}   target")
    print("-" * 60)
    for key, target, ok in targets:
        print(f"{key:<22} {summary[key]!s:>10}   {target:<24} {'ok' if ok else 'MISSED'}")
    print()


# -- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Apex auction endpoint vs the Python ceiling")
    parser.add_argument("--bidders", type=int, default=5, help="fake bidders per auction (K)")
    parser.add_argument("--bidder-latency-ms", type=float, default=20.0)
    parser.add_argument("--duration-s", type=float, default=10.0, help="per measured phase")
    parser.add_argument(
        "--concurrency", type=int, default=64, help="connections: max-rate ladder c/4, c/2, c"
    )
    parser.add_argument("--tmax-ms", type=int, default=200, help="the placement's timeoutMs")
    parser.add_argument("--quick", action="store_true", help="2 s phases: a smoke run")
    parser.add_argument(
        "--baseline-loop",
        choices=["asyncio", "uvloop"],
        default="uvloop",
        help="the baseline's event loop (default: uvloop, the one `apex serve` runs on)",
    )
    parser.add_argument(
        "--gc-trace", action="store_true", help="log Apex's garbage-collector pauses per phase"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.duration_s = min(args.duration_s, 2.0)
    args.warmup_s = 1.0 if args.quick else 3.0
    return args


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM ends the run like Ctrl-C: through the finally blocks that clean up."""
    raise KeyboardInterrupt


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


RunBench = Callable[[argparse.Namespace, Path, Processes, str | None], int]


def run_bench(args: argparse.Namespace, run: RunBench, prefix: str) -> int:
    """A bench's frame: wrk installed if possible, a work folder and a database of its own,
    every process it started stopped and both removed at the end, also on Ctrl-C or SIGTERM."""
    signal.signal(signal.SIGTERM, _interrupt)
    if not loadgen.ensure_wrk():
        say("wrk not found: using the Python load generator (it competes for CPU)")
    work = Path(tempfile.mkdtemp(prefix=prefix))
    procs = Processes(work)
    try:
        with bench_database() as database_url:
            return run(args, work, procs, database_url)
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    return run_bench(parse_args(argv), _run, "apex-bench-")


def apex_env(work: Path, database_url: str | None, port: int, secret: str) -> dict[str, str]:
    """`apex serve` as in production, in the bench's own folder: embedded chDB, in-process
    cache, a fresh database (or the embedded server), warnings only."""
    return {
        **os.environ,
        "APEX_ENV": "production",
        "APEX_SECRET_KEY": secret,
        "APEX_DATA_DIR": str(work / "data"),
        "DATABASE_URL": database_url or "",
        "CLICKHOUSE_URL": "",
        "REDIS_URL": "",
        "APEX_HOST": "127.0.0.1",
        "APEX_PORT": str(port),
        "APEX_LOG_LEVEL": "WARNING",
    }


def prepare_apex(env: dict[str, str], work: Path, database_url: str | None) -> None:
    """`apex migrate` and `apex keys create` for a bench's server, or a clear failure."""
    say(f"postgres: {database_url.rsplit('/', 1)[1] if database_url else 'embedded'}")
    for command in (["migrate"], ["keys", "create"]):
        done = subprocess.run(
            [APEX, *command], env=env, cwd=work, capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0:
            raise RuntimeError(f"apex {' '.join(command)} failed:\n{done.stdout}{done.stderr}")


def _run(args: argparse.Namespace, work: Path, procs: Processes, database_url: str | None) -> int:
    started = time.monotonic()
    apex_port, baseline_port = free_port(), free_port()
    env = {
        **apex_env(work, database_url, apex_port, secrets.token_urlsafe(48)),
        "APEX_SDK_RATE_PER_IP": UNLIMITED,
        "APEX_SDK_RATE_PER_APP": UNLIMITED,
        # Production refuses bidder calls to loopback (SSRF guard); the fake bidders live there.
        "APEX_BIDDERS_ALLOW_PRIVATE": "true",
    }
    busy = psutil.cpu_percent(interval=1) * (os.cpu_count() or 1)
    if busy > OTHER_CPU_WARN_PCT:
        say(f"warning: the machine is busy before the run ({busy:.0f}% of a core in use)")
    prepare_apex(env, work, database_url)

    bidders = procs.start(
        "bidders",
        [
            *(PYTHON, str(BENCH / "bidders.py")),
            *("--count", str(args.bidders), "--latency-ms", str(args.bidder_latency_ms)),
        ],
        env=dict(os.environ),
        capture_stdout=True,
    )
    endpoints: dict[str, str] = json.loads(read_line(bidders, 30))["endpoints"]

    gc_log = work / "gc.log" if args.gc_trace else None
    serve = [APEX] if gc_log is None else [PYTHON, str(BENCH / "gc_trace.py"), str(gc_log)]
    apex = procs.start("apex", [*serve, "serve", "--port", str(apex_port)], env=env)
    apex_base = f"http://127.0.0.1:{apex_port}"
    try:
        wait_http(f"{apex_base}/health", 120, apex)
        setup = setup_apex(apex_base, endpoints, args.tmax_ms)
    except Exception:
        say(procs.log_tail("apex"))
        raise
    # The Android SDK's HTTP client, as the invalid-traffic checks expect on this endpoint.
    sdk_headers = {"X-Api-Key": setup.sdk_key, "User-Agent": SDK_USER_AGENT}
    apex_url = f"{apex_base}/v1/auction"
    body = json.dumps(android_body(setup.placement_id)).encode()
    hung_body = json.dumps(android_body(setup.hung_placement_id)).encode()
    wait_for_fill(apex_url, body, {"Content-Type": "application/json", **sdk_headers}, 30)

    normal = [url for name, url in endpoints.items() if name != "hang"]
    placements = {setup.placement_id: normal, setup.hung_placement_id: list(endpoints.values())}
    baseline = procs.start(
        "baseline",
        [
            *(PYTHON, str(BENCH / "baseline_app.py"), "--port", str(baseline_port)),
            *("--tmax-ms", str(args.tmax_ms), "--placements", json.dumps(placements)),
            *("--loop", args.baseline_loop),
        ],
        env=dict(os.environ),
    )
    baseline_url = f"http://127.0.0.1:{baseline_port}/"
    wait_http(baseline_url, 30, baseline)
    wait_for_fill(baseline_url, body, {"Content-Type": "application/json"}, 10)
    say(f"set up in {time.monotonic() - started:.1f} s; measuring")

    meter = CpuMeter({"apex": apex.pid, "baseline": baseline.pid, "bidders": bidders.pid})
    bench = Bench(args, meter, apex_base, body, gc_log)
    conc, dur = args.concurrency, args.duration_s
    # Apex and the baseline alternate, so that the baseline's phase covers most of the
    # cooldown of any breakers Apex opened.
    warm = max(1, conc // 4)
    bench.run("warmup", "apex", apex_url, body, sdk_headers, args.warmup_s, warm)
    bench.run("warmup", "baseline", baseline_url, body, {}, args.warmup_s, warm)
    # Max rate: a closed-loop ladder, the same connection counts for both; the best counts.
    step_s = max(1.0, dur / 2)
    for level in sorted({max(1, conc // 4), max(1, conc // 2), conc}):
        bench.run("max", "apex", apex_url, body, sdk_headers, step_s, level)
        bench.run("max", "baseline", baseline_url, body, {}, step_s, level)
    maxed = [p for p in bench.phases if p.name == "max"]
    apex_max_phase = max((p for p in maxed if p.server == "apex"), key=lambda p: p.fill_rps)
    base_max_phase = max((p for p in maxed if p.server == "baseline"), key=lambda p: p.fill_rps)
    half = max(apex_max_phase.fill_rps / 2, 10.0)
    half_conns = paced_connections(half, args.bidder_latency_ms + 30)
    apex_half = bench.run("half", "apex", apex_url, body, sdk_headers, dur, half_conns, half)
    base_half = bench.run("half", "baseline", baseline_url, body, {}, dur, half_conns, half)
    hung_conns = paced_connections(half, args.tmax_ms + 30)
    apex_hung = bench.run("hung", "apex", apex_url, hung_body, sdk_headers, dur, hung_conns, half)
    base_hung = bench.run("hung", "baseline", baseline_url, hung_body, {}, dur, hung_conns, half)

    apex_rps, base_rps = apex_max_phase.fill_rps, base_max_phase.fill_rps
    apex_gc2 = [ms for p in bench.phases if p.server == "apex" for gen, ms in p.gc if gen == 2]
    summary: dict[str, Any] = {
        "apex_rps": round(apex_rps, 1),
        "baseline_rps": round(base_rps, 1),
        "ratio": round(apex_rps / base_rps, 3) if base_rps else None,
        "p50_ms": round(apex_half.p50_ms, 2),
        "p99_ms": round(apex_half.p99_ms, 2),
        "overhead_p99_ms": round(apex_half.p99_ms - args.bidder_latency_ms, 2),
        "hung_bidder_p99_ms": round(apex_hung.p99_ms, 2),
        "tmax_ms": args.tmax_ms,
        "errors_5xx": sum(p.result.errors_5xx for p in bench.phases),
        # Context for the figures above.
        "max_concurrency": [apex_max_phase.connections, base_max_phase.connections],
        "apex_answers_rps": round(apex_max_phase.result.rps, 1),
        "baseline_answers_rps": round(base_max_phase.result.rps, 1),
        "half_rate_rps": round(apex_half.rps, 1),
        "apex_half_fill_pct": round(100 * apex_half.status.get("200", 0) / apex_half.requests, 1)
        if apex_half.requests
        else None,
        "baseline_p99_ms": round(base_half.p99_ms, 2),
        "hung_bidder_max_ms": round(apex_hung.max_ms, 2),
        "baseline_hung_p99_ms": round(base_hung.p99_ms, 2),
        "breaker_openings": sum(p.apex.get("circuit_opened", 0) for p in bench.phases),
        "non_2xx": sum(p.result.non_2xx for p in bench.phases),
        "other_cpu_pct_max": round(max(p.other_cpu for p in bench.phases), 0),
        "socket_errors": sum(p.result.socket_errors for p in bench.phases),
        "bidders": args.bidders,
        "bidder_latency_ms": args.bidder_latency_ms,
        "concurrency": conc,
        "duration_s": dur,
        "loadgen": apex_half.tool,
        "cores": os.cpu_count(),
    }
    if gc_log is not None:
        summary["apex_gc2_count"] = len(apex_gc2)
        summary["apex_gc2_max_ms"] = round(max(apex_gc2), 1) if apex_gc2 else 0
    targets = [
        ("ratio", ">= 0.6", (summary["ratio"] or 0) >= 0.6),
        ("overhead_p99_ms", "<= 5", summary["overhead_p99_ms"] <= 5),
        (
            "hung_bidder_p99_ms",
            f"<= tmax + 15 = {args.tmax_ms + 15}",
            summary["hung_bidder_p99_ms"] <= args.tmax_ms + 15,
        ),
        ("errors_5xx", "= 0", summary["errors_5xx"] == 0),
    ]
    print_table(bench, summary, targets)
    say(f"total {time.monotonic() - started:.0f} s")
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

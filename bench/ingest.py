"""Benchmark of Apex's beacon ingest (durable log -> embedded ClickHouse) against the Python
ceiling for answering the same requests.

One run, on this machine, everything on 127.0.0.1:
- Apex as shipped: `apex serve` with APEX_ENV=production, its own data dir (so the embedded
  chDB and the durable ingest log, fsync'ed group commit on), a fresh PostgreSQL database, a
  known APEX_SECRET_KEY, and an app and a placement set up through the public API;
- the baseline (bench/ingest_baseline.py): a bare ASGI app answering 204, served by uvicorn the
  way `apex serve` serves Apex (uvloop, httptools);
- wrk (or a Python fallback) replaying a pre-generated table of beacon paths.

Beacons: the benchmark mints the tokens itself with `TokenSigner(APEX_SECRET_KEY)` (what
`settings.secret` derives the server's signer from), a new token for every impression, each
for the app and placement set up above. Per token: `/t/imp`, plus `/t/video/start` for one in
four and `/t/click` for one in ten (a token counts once per event name, so each request is a
new event). Before every Apex phase, a fresh table (sized from the best rate so far, with a
wide margin) is written per wrk thread; a table that runs out wraps, and its replays are
counted (`replayed`, expected 0). The baseline gets the same kind of paths.

Phases (each starts with Apex's ingest backlog shipped, Apex and the baseline alternate): a
warm-up, then a closed-loop max-rate ladder at c/4, c/2 and c connections (--concurrency c,
--duration-s each). The best rate of 2xx answers counts: `beacons_rps`, `baseline_rps`,
`ratio` = beacons_rps / baseline_rps.

During the whole run a sampler reads Apex's /metrics every 100 ms: `http_requests_total` on
the beacon routes (A(t): events acknowledged with a 2xx, server side), and
`ingest_shipped_records_total{table="events"}` (S(t): events landed in ClickHouse). The log is
shipped in order, so the k-th acknowledged event lands at S^-1(k); its lag is
S^-1(k) - A^-1(k) (interpolated between samples: +-0.1 s). A scrape costs Apex ~1.5 ms of CPU,
so the sampler takes ~1.5% of a core from it.
- `lag_p99_s`: p99 of that lag over every event acknowledged in the max-rate phases (events
  that land after their phase ended count too). `lag_gauge_p99_s`: p99 of the
  `ingest_lag_seconds` gauge sampled during those phases (the age of the oldest record not
  yet shipped, as the shipper last measured it).
- `events_per_s`: for the phase that gave `beacons_rps`, its events divided by the time from
  its start until the last of them landed (the sustained end-to-end rate). `ship_max_per_s`:
  the best rate over 1 s at which events landed.
After the last phase the backlog is shipped, Apex is stopped (SIGTERM), and the `events`
table is read with chDB: `landed` = count() FINAL must equal `server_accepted` (every 2xx
Apex sent, including those wrk cut off at the end of a phase: `unanswered`), `lost` and
`duplicates` (physical rows beyond one per event_id) must be 0.
Prints a table, then one JSON object as the last line.

    .venv/bin/python bench/ingest.py [--duration-s 10] [--concurrency 128] [--quick]

--quick: 1 s warm-ups, then 3 s phases at c/2 and c only (a ~30 s smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import hashlib
import json
import math
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import loadgen
import psutil
from loadgen import WRK_MARK, LoadResult

from apex_mediation.tracking.tokens import TokenSigner
from auction import (
    APEX,
    BENCH,
    OTHER_CPU_WARN_PCT,
    PYTHON,
    UNLIMITED,
    CpuMeter,
    Processes,
    _check,
    _fmt,
    apex_env,
    bench_app,
    free_port,
    prepare_apex,
    run_bench,
    say,
    wait_http,
)

BEACON_ROUTES = ("/t/imp", "/t/click", "/t/reward", "/t/video/{event}")
NIL_UUID = "00000000-0000-0000-0000-000000000000"
SAMPLE_INTERVAL_S = 0.1
MAX_SAMPLES = 20_000  # 100 ms for more than half an hour: the sampler's bound
REQUESTS_PER_TOKEN = 1 + 1 / 4 + 1 / 10  # /t/imp, 1 in 4 /t/video/start, 1 in 10 /t/click
FIRST_RATE_GUESS = 10_000.0  # requests/s the first table is sized for (x2)
DRAIN_TIMEOUT_S = 60.0


# -- beacons -------------------------------------------------------------------------------------


class Beacons:
    """Mints valid, never-repeated beacon tokens and writes them as per-thread path tables."""

    def __init__(self, secret: bytes, app_id: str, placement_id: str) -> None:
        self.signer = TokenSigner(secret)
        self.app_id = app_id
        self.placement_id = placement_id
        self.run = secrets.token_hex(4)
        self.minted = 0
        # Honest traffic as the invalid-traffic checks see it: enough devices that none shows
        # more ads than a person could (at 10k beacons/s, each device about one a minute), and
        # tokens dated before the server started, as if from auctions it ran before a restart
        # (the bench mints them itself, so the server never saw those auctions).
        self.devices = [
            hashlib.sha256(f"device-{i}".encode()).hexdigest()[:24] for i in range(600_000)
        ]
        self.issued_at = time.time() - 300

    def _paths(self, n: int) -> list[str]:
        token = self.signer.sign(
            auction_id=f"{self.run}-{n:x}",
            bid_id="1",
            app_id=self.app_id,
            placement_id=self.placement_id,
            network="bench",
            price_micros=500_000 + (n % 50) * 50_000,
            currency="USD",
            test=False,
            device_key=self.devices[n % len(self.devices)],
            now=self.issued_at,
        )
        paths = [f"/t/imp?token={token}"]
        if n % 4 == 0:
            paths.append(f"/t/video/start?token={token}")
        if n % 10 == 0:
            paths.append(f"/t/click?token={token}")
        return paths

    def write(self, prefix: Path, threads: int, requests: int) -> int:
        """At least `requests` paths of new tokens into `{prefix}{thread}.txt`; returns how many.
        A token's events go to the same thread, in order (impression first)."""
        tables: list[list[str]] = [[] for _ in range(threads)]
        tokens = math.ceil(requests / REQUESTS_PER_TOKEN) + threads
        for i in range(tokens):
            tables[i % threads].extend(self._paths(self.minted + i))
        self.minted += tokens
        for number, table in enumerate(tables):
            Path(f"{prefix}{number}.txt").write_text("\n".join(table) + "\n")
        return sum(len(t) for t in tables)


# -- load --------------------------------------------------------------------------------------


@dataclass
class Load:
    result: LoadResult
    sent: int  # requests generated
    replayed: int  # requests beyond the end of a thread's table (replayed tokens)

    @property
    def ok(self) -> int:
        return sum(n for k, n in self.result.status.items() if k in ("200", "204", "2xx"))


_LUA = r"""
local prefix = [==[%(prefix)s]==]
local threads, created = {}, 0

function setup(thread)
  thread:set("tid", created)
  created = created + 1
  table.insert(threads, thread)
end

function init(args)
  paths = {}
  for line in io.lines(prefix .. tid .. ".txt") do paths[#paths + 1] = line end
  total, sent, replayed = #paths, 0, 0
  s200, s204, s2xx, s3xx, s4xx, s5xx, sother = 0, 0, 0, 0, 0, 0, 0
end

function request()
  sent = sent + 1
  if sent > total then replayed = replayed + 1 end
  return wrk.format(nil, paths[(sent - 1) %% total + 1])
end

%(count_statuses)s
function done(summary, latency, requests)
  local names = {"s200", "s204", "s2xx", "s3xx", "s4xx", "s5xx", "sother", "sent", "replayed"}
  local t = {}
  for _, name in ipairs(names) do
    t[name] = 0
    for _, thread in ipairs(threads) do t[name] = t[name] + thread:get(name) end
  end
  local e = summary.errors
  io.write(string.format(
    '%(mark)s{"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,' ..
    '"max_us":%%d,"socket_errors":%%d,"sent":%%d,"replayed":%%d,"status":{"200":%%d,' ..
    '"204":%%d,"2xx":%%d,"3xx":%%d,"4xx":%%d,"5xx":%%d,"other":%%d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect + e.read + e.write + e.timeout,
    t.sent, t.replayed, t.s200, t.s204, t.s2xx, t.s3xx, t.s4xx, t.s5xx, t.sother))
end
"""


def run_wrk(base: str, prefix: Path, threads: int, duration_s: float, connections: int) -> Load:
    script = prefix.with_suffix(".lua")
    script.write_text(
        _LUA
        % {"prefix": str(prefix), "mark": WRK_MARK, "count_statuses": loadgen.LUA_COUNT_STATUSES}
    )
    seconds = max(1, round(duration_s))
    done = subprocess.run(
        [
            *("wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s"),
            *("--timeout", "2s", "-s", str(script), base),
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith(WRK_MARK)), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    data = json.loads(line[len(WRK_MARK) :])
    result = LoadResult(
        requests=data["requests"],
        duration_s=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        status={k: v for k, v in data["status"].items() if v},
        socket_errors=data["socket_errors"],
        tool="wrk",
    )
    return Load(result, data["sent"], data["replayed"])


async def _run_python(
    base: str, paths: list[str], duration_s: float, connections: int
) -> tuple[LoadResult, int, int]:
    """Closed loop over `paths` in order (the fallback without wrk: it competes for CPU)."""
    latencies: list[float] = []
    status: dict[str, int] = {}
    errors = sent = 0
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(
        base, connector=connector, timeout=aiohttp.ClientTimeout(total=2)
    ) as session:
        end = time.perf_counter() + duration_s

        async def worker() -> None:
            nonlocal errors, sent
            while (started := time.perf_counter()) < end:
                path = paths[sent % len(paths)]
                sent += 1
                try:
                    async with session.get(path) as response:
                        await response.read()
                        code = response.status
                except (aiohttp.ClientError, TimeoutError, OSError):
                    errors += 1
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                key = str(code) if code in (200, 204) else f"{code // 100}xx"
                status[key] = status.get(key, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    ordered = sorted(latencies)
    pct = percentile(ordered, 50), percentile(ordered, 90), percentile(ordered, 99)
    result = LoadResult(
        requests=len(ordered) + errors,
        duration_s=elapsed,
        p50_ms=pct[0],
        p90_ms=pct[1],
        p99_ms=pct[2],
        max_ms=ordered[-1] if ordered else math.nan,
        status=status,
        socket_errors=errors,
        tool="python",
    )
    return result, sent, max(0, sent - len(paths))


def run_load(base: str, prefix: Path, threads: int, duration_s: float, connections: int) -> Load:
    if loadgen.wrk_available():
        return run_wrk(base, prefix, threads, duration_s, connections)
    paths = [
        line
        for number in range(threads)
        for line in Path(f"{prefix}{number}.txt").read_text().splitlines()
    ]
    return Load(*asyncio.run(_run_python(base, paths, duration_s, connections)))


def percentile(ordered: list[float], p: float) -> float:
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


# -- Apex's /metrics -------------------------------------------------------------------------

_REQUESTS = re.compile(r'^http_requests_total\{.*route="([^"]*)".*status="(\d+)".*\} (\S+)$')


@dataclass(frozen=True)
class Sample:
    t: float  # time.monotonic() when the answer arrived
    accepted: float  # 2xx answers on the beacon routes, server side
    refused: float  # other answers on the beacon routes
    shipped: float  # ingest_shipped_records_total{table="events"}
    lag_s: float  # ingest_lag_seconds
    backlog_bytes: float  # ingest_backlog_bytes


def scrape(client: httpx.Client) -> Sample:
    text = client.get("/metrics").text
    t = time.monotonic()
    accepted = refused = shipped = lag = backlog = 0.0
    for line in text.splitlines():
        if line.startswith("http_requests_total{"):
            match = _REQUESTS.match(line)
            if match and match[1] in BEACON_ROUTES:
                if match[2].startswith("2"):
                    accepted += float(match[3])
                else:
                    refused += float(match[3])
        elif line.startswith('ingest_shipped_records_total{table="events"}'):
            shipped = float(line.rsplit(" ", 1)[1])
        elif line.startswith("ingest_lag_seconds "):
            lag = float(line.rsplit(" ", 1)[1])
        elif line.startswith("ingest_backlog_bytes "):
            backlog = float(line.rsplit(" ", 1)[1])
    return Sample(t, accepted, refused, shipped, lag, backlog)


class Sampler:
    """Scrapes Apex's /metrics every SAMPLE_INTERVAL_S in a thread (at most MAX_SAMPLES)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="metrics sampler", daemon=True)
        self._client = httpx.Client(base_url=base, timeout=5)  # for read(), main thread

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        if not self._client.is_closed:
            self._client.close()

    def read(self) -> Sample:
        sample = scrape(self._client)
        self._add(sample)
        return sample

    def _add(self, sample: Sample) -> None:
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append(sample)

    def _loop(self) -> None:
        with httpx.Client(base_url=self.base, timeout=5) as client:
            while not self._stop.is_set() and len(self.samples) < MAX_SAMPLES:
                with contextlib.suppress(httpx.HTTPError):
                    self._add(scrape(client))
                self._stop.wait(SAMPLE_INTERVAL_S)

    def ordered(self) -> list[Sample]:
        return sorted(self.samples, key=lambda s: s.t)


class Curves:
    """A(t) and S(t) from the samples, and their inverses (linear between samples)."""

    def __init__(self, samples: list[Sample]) -> None:
        self.t = [s.t for s in samples]
        # Counters only grow; max() irons out the odd sample read before a concurrent one.
        self.accepted = _running_max([s.accepted for s in samples])
        self.shipped = _running_max([s.shipped for s in samples])

    def when_accepted(self, k: float) -> float | None:
        return _inverse(self.t, self.accepted, k)

    def when_shipped(self, k: float) -> float | None:
        return _inverse(self.t, self.shipped, k)

    def lags(self, first: float, last: float, step: float) -> list[float]:
        """Lag of events first..last (every `step`-th); inf for one not shipped yet."""
        lags = []
        k = first
        while k <= last:
            accepted, shipped = self.when_accepted(k), self.when_shipped(k)
            if accepted is not None:
                lags.append(math.inf if shipped is None else max(0.0, shipped - accepted))
            k += step
        return lags

    def best_rate(self, window_s: float = 1.0) -> float:
        best, j = 0.0, 0
        for i in range(len(self.t)):
            while j < len(self.t) and self.t[j] - self.t[i] < window_s:
                j += 1
            if j == len(self.t):
                break
            best = max(best, (self.shipped[j] - self.shipped[i]) / (self.t[j] - self.t[i]))
        return best


def _running_max(values: list[float]) -> list[float]:
    out, top = [], -math.inf
    for value in values:
        top = max(top, value)
        out.append(top)
    return out


def _inverse(ts: list[float], values: list[float], k: float) -> float | None:
    j = bisect.bisect_left(values, k)
    if j >= len(values):
        return None
    if j == 0 or values[j] == values[j - 1]:
        return ts[j]
    share = (k - values[j - 1]) / (values[j] - values[j - 1])
    return ts[j - 1] + share * (ts[j] - ts[j - 1])


# -- phases ------------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    server: str
    connections: int
    load: Load
    cpu: dict[str, float]
    started: float
    ended: float
    before: Sample | None = None  # Apex's counters at the start and the end (Apex phases)
    after: Sample | None = None
    lags: list[float] = field(default_factory=list)  # per event (sampled), Apex phases

    @property
    def ok_rps(self) -> float:
        r = self.load.result
        return self.load.ok / r.duration_s if r.duration_s else 0.0

    @property
    def events(self) -> int:
        return int(self.after.accepted - self.before.accepted) if self.after and self.before else 0

    @property
    def other_cpu(self) -> float:
        ours = sum(v for k, v in self.cpu.items() if k != "machine")
        return max(0.0, self.cpu.get("machine", ours) - ours)


class Bench:
    def __init__(
        self,
        args: argparse.Namespace,
        work: Path,
        meter: CpuMeter,
        sampler: Sampler,
        beacons: Beacons,
        apex_base: str,
        baseline_base: str,
        framework_base: str,
    ) -> None:
        self.args = args
        self.work = work
        self.meter = meter
        self.sampler = sampler
        self.beacons = beacons
        self.bases = {"apex": apex_base, "baseline": baseline_base, "fastapi": framework_base}
        self.phases: list[Phase] = []
        self.replayed = 0  # requests that replayed a token (Apex answers 2xx, stores nothing)
        self.baseline_prefix = work / "paths-baseline-"
        beacons.write(self.baseline_prefix, args.threads, 50_000)

    def expected_rate(self) -> float:
        rates = [p.load.result.rps for p in self.phases if p.server == "apex"]
        return 2 * max([FIRST_RATE_GUESS, *rates])

    def run(self, name: str, server: str, duration_s: float, connections: int) -> Phase:
        self.wait_drained()
        threads = max(1, min(self.args.threads, connections))
        if server == "apex":
            prefix = self.work / f"paths-{len(self.phases)}-"
            self.beacons.write(prefix, threads, int(self.expected_rate() * duration_s) + 2000)
        else:
            prefix = self.baseline_prefix
        say(f"  {name} / {server} (c={connections}) for {duration_s:.0f} s ...")
        before = self.sampler.read() if server == "apex" else None
        cpu_before, started = self.meter.sample(), time.monotonic()
        load = run_load(self.bases[server], prefix, threads, duration_s, connections)
        cpu_after, ended = self.meter.sample(), time.monotonic()
        after = self.sampler.read() if server == "apex" else None
        elapsed = ended - started
        cpu = {k: 100 * (v - cpu_before.get(k, v)) / elapsed for k, v in cpu_after.items()}
        if server == "apex":
            self.replayed += load.replayed
            for number in range(threads):
                Path(f"{prefix}{number}.txt").unlink(missing_ok=True)
        phase = Phase(name, server, connections, load, cpu, started, ended, before, after)
        self.phases.append(phase)
        return phase

    def wait_drained(self, timeout_s: float = DRAIN_TIMEOUT_S) -> float | None:
        """Until Apex shipped every event it acknowledged: seconds waited, None on timeout."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            with contextlib.suppress(httpx.HTTPError):
                sample = self.sampler.read()
                if sample.shipped >= sample.accepted - self.replayed:
                    return time.monotonic() - started
            time.sleep(SAMPLE_INTERVAL_S)
        say(f"  (Apex's ingest backlog not shipped within {timeout_s:.0f} s)")
        return None


# -- verification ------------------------------------------------------------------------------


def count_events(clickhouse_dir: Path, database: str = "apex") -> dict[str, int]:
    """Read the stopped server's chDB data: rows, distinct events, events with no placement."""
    from apex_mediation.stores.analytics import ChdbAnalytics

    async def query() -> dict[str, int]:
        store = await ChdbAnalytics.open(clickhouse_dir, database)
        try:
            raw = await store.query(
                "SELECT count() AS rows, uniqExact(event_id) AS distinct_events, "
                f"countIf(publisher_id = toUUID('{NIL_UUID}')) AS unattributed FROM events"
            )
            final = await store.query("SELECT count() AS landed FROM events FINAL")
        finally:
            await store.close()
        return {k: int(v) for k, v in {**raw[0], **final[0]}.items()}

    return asyncio.run(query())


# -- report -----------------------------------------------------------------------------------


def print_table(
    bench: Bench, summary: dict[str, Any], targets: list[tuple[str, str, bool]]
) -> None:
    head = (
        f"{'phase':<6} {'server':<8} {'conns':>5} {'answers/s':>9} {'2xx/s':>7} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'non2xx':>6} {'5xx':>4} {'sockerr':>7} "
        f"{'cpu% apex':>9} {'ref':>8} {'loadgen':>7} {'other':>5} "
        f"{'landed/s':>8} {'lag p50 s':>9} {'lag p99 s':>9} {'max backlog':>11}"
    )
    print()
    print(head)
    print("-" * len(head))
    samples = bench.sampler.ordered()
    curves = Curves(samples)
    for p in bench.phases:
        r = p.load.result
        reference = "baseline" if p.server == "apex" else p.server
        landed = lag50 = lag99 = backlog = ""
        if p.server == "apex" and p.before and p.after:
            ordered = sorted(p.lags)
            lag50 = _fmt(percentile(ordered, 50), 2)
            lag99 = _fmt(percentile(ordered, 99), 2)
            landed = _fmt(phase_landed_rate(p, curves), 0)
            during = [s.backlog_bytes for s in samples if p.started <= s.t <= p.ended]
            backlog = f"{max(during, default=0) / 1e6:,.1f} MB"
        print(
            f"{p.name:<6} {p.server:<8} {p.connections:>5} {_fmt(r.rps, 0):>9} "
            f"{_fmt(p.ok_rps, 0):>7} {_fmt(r.p50_ms):>7} {_fmt(r.p99_ms):>7} {_fmt(r.max_ms):>7} "
            f"{r.non_2xx:>6} {r.errors_5xx:>4} {r.socket_errors:>7} "
            f"{_fmt(p.cpu.get('apex'), 0):>9} {_fmt(p.cpu.get(reference), 0):>8} "
            f"{_fmt(p.cpu.get('loadgen'), 0):>7} {_fmt(p.other_cpu, 0):>5} "
            f"{landed:>8} {lag50:>9} {lag99:>9} {backlog:>11}"
        )
    print(
        "\n2xx/s: accepted beacons (Apex: each a new event, on disk before the answer);"
        "\nlanded/s: the phase's events / (phase start -> its last event in ClickHouse);"
        "\nlag: acknowledged -> in ClickHouse, per event (+-0.1 s); max backlog: ingest log bytes"
        "\nnot yet shipped; cpu%: of one core (ref: the reference server of the row: baseline or"
        "\nfastapi); other: CPU used by other processes (should be ~0)."
    )
    other = summary.get("other_cpu_pct_max") or 0
    if other > OTHER_CPU_WARN_PCT:
        print(
            f"\nWARNING: other processes used up to {other:.0f}% of a core during a phase: "
            "these figures are not from a quiet machine."
        )
    if summary["replayed"]:
        print(f"\nWARNING: {summary['replayed']} requests replayed a token (the table ran out).")
    if not summary["drained"]:
        print("\nWARNING: Apex had not shipped every event when it was stopped.")
    if not summary["clean_exit"]:
        print("\nWARNING: Apex did not exit cleanly on SIGTERM (its log tail is above).")
    print()
    print(f"{'metric':<22} {'value':>10}   target")
    print("-" * 60)
    for key, target, ok in targets:
        print(f"{key:<22} {summary[key]!s:>10}   {target:<24} {'ok' if ok else 'MISSED'}")
    print()


def phase_landed_rate(phase: Phase, curves: Curves) -> float:
    """The phase's events / (its start -> the moment the last of them was shipped)."""
    if phase.after is None or not phase.events:
        return math.nan
    landed_at = curves.when_shipped(phase.after.accepted)
    if landed_at is None:
        return math.nan
    return phase.events / max(landed_at - phase.started, 1e-9)


# -- setup ------------------------------------------------------------------------------------


def setup_placement(base: str) -> tuple[str, str]:
    """Signup, a management key, an app and a placement, through the public API."""
    with httpx.Client(base_url=base, timeout=10) as http:
        app_id = bench_app(http)
        placement = http.post(
            "/api/v1/placements",
            json={
                "name": "bench-beacons",
                "appId": app_id,
                "format": "interstitial",
                "config": {"timeoutMs": 200},
            },
        )
        _check(placement, 201)
        return app_id, str(placement.json()["id"])


# -- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Apex beacon ingest vs the Python ceiling")
    parser.add_argument("--duration-s", type=float, default=10.0, help="per max-rate phase")
    parser.add_argument(
        "--concurrency", type=int, default=128, help="connections: max-rate ladder c/4, c/2, c"
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--quick", action="store_true", help="3 s phases, c/2 and c: a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration_s = min(args.duration_s, 3.0)
    args.warmup_s = 1.0 if args.quick else 3.0
    return args


def main(argv: list[str] | None = None) -> int:
    return run_bench(parse_args(argv), _run, "apex-bench-ingest-")


def _run(args: argparse.Namespace, work: Path, procs: Processes, database_url: str | None) -> int:
    started = time.monotonic()
    apex_port, baseline_port, framework_port = free_port(), free_port(), free_port()
    secret = secrets.token_urlsafe(48)
    env = {
        **apex_env(work, database_url, apex_port, secret),
        "APEX_SDK_RATE_PER_IP": UNLIMITED,
        "APEX_SDK_RATE_PER_APP": UNLIMITED,
    }
    busy = psutil.cpu_percent(interval=1) * (os.cpu_count() or 1)
    if busy > OTHER_CPU_WARN_PCT:
        say(f"warning: the machine is busy before the run ({busy:.0f}% of a core in use)")
    prepare_apex(env, work, database_url)

    apex = procs.start("apex", [APEX, "serve", "--port", str(apex_port)], env=env)
    apex_base = f"http://127.0.0.1:{apex_port}"
    baseline = procs.start(
        "baseline",
        [PYTHON, str(BENCH / "ingest_baseline.py"), "--port", str(baseline_port)],
        env=dict(os.environ),
    )
    baseline_base = f"http://127.0.0.1:{baseline_port}"
    framework = procs.start(
        "fastapi",
        [PYTHON, str(BENCH / "ingest_baseline.py"), "--port", str(framework_port), "--framework"],
        env=dict(os.environ),
    )
    framework_base = f"http://127.0.0.1:{framework_port}"
    try:
        wait_http(f"{apex_base}/health", 120, apex)
        app_id, placement_id = setup_placement(apex_base)
    except Exception:
        say(procs.log_tail("apex"))
        raise
    ready_at = time.monotonic() + 2.0
    wait_http(f"{baseline_base}/", 30, baseline)
    wait_http(f"{framework_base}/", 30, framework)
    # The beacon path finds the placement in the config snapshot (refreshed every second).
    beacons = Beacons(secret.encode(), app_id, placement_id)
    sampler = Sampler(apex_base)
    meter = CpuMeter({"apex": apex.pid, "baseline": baseline.pid, "fastapi": framework.pid})
    bench = Bench(args, work, meter, sampler, beacons, apex_base, baseline_base, framework_base)
    time.sleep(max(0.0, ready_at - time.monotonic()))
    say(f"set up in {time.monotonic() - started:.1f} s; measuring")

    sampler.start()
    try:
        return _measure(args, bench, procs, apex, work, started)
    finally:
        sampler.stop()


def _measure(
    args: argparse.Namespace,
    bench: Bench,
    procs: Processes,
    apex: subprocess.Popen[str],
    work: Path,
    started: float,
) -> int:
    conc, dur = args.concurrency, args.duration_s
    warm = max(1, conc // 4)
    bench.run("warmup", "apex", args.warmup_s, warm)
    bench.run("warmup", "baseline", args.warmup_s, warm)
    levels = [conc // 2, conc] if args.quick else [conc // 4, conc // 2, conc]
    for level in sorted({max(1, c) for c in levels}):
        bench.run("max", "apex", dur, level)
        bench.run("max", "baseline", dur, level)
        bench.run("max", "fastapi", dur, level)
    drained = bench.wait_drained() is not None
    final = bench.sampler.read()

    say("  stopping Apex (SIGTERM) ...")
    stop_started = time.monotonic()
    apex.send_signal(signal.SIGTERM)
    try:
        exit_code: int | None = apex.wait(60)
    except subprocess.TimeoutExpired:
        exit_code = None
    stop_s = time.monotonic() - stop_started
    procs.stop("apex")
    bench.sampler.stop()
    counts = count_events(work / "data" / "clickhouse")

    samples = bench.sampler.ordered()
    curves = Curves(samples)
    for p in bench.phases:
        if p.server == "apex" and p.before and p.after and p.events:
            step = max(1.0, p.events / 2000)
            p.lags = curves.lags(p.before.accepted + 1, p.after.accepted, step)
    maxed = [p for p in bench.phases if p.name == "max"]
    apex_max = [p for p in maxed if p.server == "apex"]
    apex_best = max(apex_max, key=lambda p: p.ok_rps)
    base_best = max((p for p in maxed if p.server == "baseline"), key=lambda p: p.ok_rps)
    lags = sorted(lag for p in apex_max for lag in p.lags)
    gauge = sorted(s.lag_s for s in samples for p in apex_max if p.started <= s.t <= p.ended)
    accepted = sum(p.load.ok for p in bench.phases if p.server == "apex")
    server_accepted = int(final.accepted)
    expected = server_accepted - bench.replayed  # replays are acknowledged, not stored again
    frame_best = max((p for p in maxed if p.server == "fastapi"), key=lambda p: p.ok_rps)
    beacons_rps, base_rps, frame_rps = apex_best.ok_rps, base_best.ok_rps, frame_best.ok_rps
    summary: dict[str, Any] = {
        "beacons_rps": _num(beacons_rps, 1),
        "baseline_rps": _num(base_rps, 1),
        "ratio": _num(beacons_rps / base_rps, 3) if base_rps else None,
        # The framework's ceiling: FastAPI answering 204 on the same routes, nothing else.
        "fastapi_rps": _num(frame_rps, 1),
        "fastapi_ratio": _num(frame_rps / base_rps, 3) if base_rps else None,
        "ratio_to_fastapi": _num(beacons_rps / frame_rps, 3) if frame_rps else None,
        "events_per_s": _num(phase_landed_rate(apex_best, curves), 1),
        "lag_p99_s": _num(percentile(lags, 99), 3),
        "lag_p50_s": _num(percentile(lags, 50), 3),
        "lag_max_s": _num(lags[-1], 3) if lags else None,
        "lag_gauge_p99_s": _num(percentile(gauge, 99), 3),
        "lag_gauge_max_s": _num(gauge[-1], 3) if gauge else None,
        "ship_max_per_s": _num(curves.best_rate(), 1),
        "accepted": accepted,
        "server_accepted": server_accepted,
        "unanswered": server_accepted - accepted,
        "landed": counts["landed"],
        "lost": max(0, expected - counts["landed"]),
        "extra": max(0, counts["landed"] - expected),
        "duplicates": counts["rows"] - counts["distinct_events"],
        "unattributed": counts["unattributed"],
        "replayed": bench.replayed,
        "errors_5xx": sum(p.load.result.errors_5xx for p in bench.phases),
        "non_2xx": sum(p.load.result.non_2xx for p in bench.phases),
        "socket_errors": sum(p.load.result.socket_errors for p in bench.phases),
        "drained": drained,
        "clean_exit": exit_code == 0,
        "stop_s": _num(stop_s, 1),
        "max_concurrency": [apex_best.connections, base_best.connections],
        "apex_p99_ms": _num(apex_best.load.result.p99_ms, 2),
        "baseline_p99_ms": _num(base_best.load.result.p99_ms, 2),
        "apex_cpu_pct": _num(apex_best.cpu.get("apex", math.nan), 0),
        "other_cpu_pct_max": _num(max(p.other_cpu for p in bench.phases), 0),
        "concurrency": args.concurrency,
        "duration_s": args.duration_s,
        "loadgen": apex_best.load.result.tool,
        "cores": os.cpu_count(),
    }
    if exit_code != 0:
        say(procs.log_tail("apex"))
    targets = [
        ("ratio", ">= 0.4", (summary["ratio"] or 0) >= 0.4),
        ("beacons_rps", ">= 8000", beacons_rps >= 8000),
        ("lag_p99_s", "<= 5", summary["lag_p99_s"] is not None and summary["lag_p99_s"] <= 5),
        ("lost", "= 0", summary["lost"] == 0),
        ("duplicates", "= 0", summary["duplicates"] == 0),
        ("errors_5xx", "= 0", summary["errors_5xx"] == 0),
    ]
    print_table(bench, summary, targets)
    summary["total_s"] = round(time.monotonic() - started, 1)
    say(f"total {summary['total_s']:.0f} s")
    print(json.dumps(summary), flush=True)
    return 0


def _num(value: float, digits: int) -> float | None:
    """Rounded, or None for NaN and infinity (not JSON)."""
    return round(value, digits) if math.isfinite(value) else None


if __name__ == "__main__":
    sys.exit(main())

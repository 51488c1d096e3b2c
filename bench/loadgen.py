"""Load generation for the benchmarks: `wrk` (C, cheap on a 2-core box) with a generated Lua
script, or a Python/aiohttp fallback when wrk is not installed.

Two modes, both bounded by a duration:
- closed loop (`rate=None`): `connections` clients, each sends its next request when the last
  one is answered; measures the maximum rate;
- paced (`rate=r`): requests start on a fixed schedule of r per second (wrk: a per-thread
  schedule in Lua's `delay()`, timed with clock_gettime through LuaJIT's FFI), with enough
  connections that the schedule is not held back by slow answers. Latency is measured from the
  moment a request is sent, so it stays open-loop only while connections are free; the achieved
  rate is reported so that this can be checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

WRK_MARK = "WRKJSON "


@dataclass
class LoadResult:
    requests: int
    duration_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    status: dict[str, int] = field(default_factory=dict)  # "200", "204", "2xx", "4xx", "5xx", …
    socket_errors: int = 0  # connect/read/write errors and client timeouts
    tool: str = "wrk"

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def errors_5xx(self) -> int:
        return self.status.get("5xx", 0)

    @property
    def non_2xx(self) -> int:
        return sum(n for k, n in self.status.items() if k in ("3xx", "4xx", "5xx", "other"))


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def ensure_wrk() -> bool:
    """wrk if installed; else, as root on Debian/Ubuntu, a quiet `apt-get install wrk`."""
    if wrk_available():
        return True
    if os.geteuid() == 0 and shutil.which("apt-get"):
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run(
                ["apt-get", "install", "-y", "-qq", "wrk"],
                capture_output=True,
                timeout=180,
                check=False,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            )
    return wrk_available()


# wrk's `response` hook counting answers by status class (s200 ... sother, set by `init`).
LUA_COUNT_STATUSES = """\
function response(status, headers, body)
  if status == 200 then s200 = s200 + 1
  elseif status == 204 then s204 = s204 + 1
  elseif status < 300 then s2xx = s2xx + 1
  elseif status < 400 then s3xx = s3xx + 1
  elseif status < 500 then s4xx = s4xx + 1
  elseif status < 600 then s5xx = s5xx + 1
  else sother = sother + 1 end
end
"""

_LUA = r"""
wrk.method = "POST"
wrk.body = [==[%(body)s]==]
wrk.headers["Content-Type"] = "application/json"
%(headers)s
local rate = %(rate)f  -- requests per second per thread; 0: closed loop
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local ffi, ts, next_at
function init(args)
  s200, s204, s2xx, s3xx, s4xx, s5xx, sother = 0, 0, 0, 0, 0, 0, 0
  if rate > 0 then
    ffi = require("ffi")
    ffi.cdef[[
      typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
      int clock_gettime(int clk_id, bench_timespec *tp);
    ]]
    ts = ffi.new("bench_timespec")
  end
end

local function now_ms()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

if rate > 0 then
  function delay()
    local now = now_ms()
    if next_at == nil then next_at = now end
    local slot = math.max(next_at, now)
    next_at = slot + 1000 / rate
    return slot - now
  end
end

%(count_statuses)s
function done(summary, latency, requests)
  local names = {"s200", "s204", "s2xx", "s3xx", "s4xx", "s5xx", "sother"}
  local totals = {}
  for _, name in ipairs(names) do
    totals[name] = 0
    for _, thread in ipairs(threads) do totals[name] = totals[name] + thread:get(name) end
  end
  local e = summary.errors
  io.write(string.format(
    '%(mark)s{"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,' ..
    '"max_us":%%d,"socket_errors":%%d,"status":{"200":%%d,"204":%%d,"2xx":%%d,"3xx":%%d,' ..
    '"4xx":%%d,"5xx":%%d,"other":%%d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect + e.read + e.write + e.timeout,
    totals.s200, totals.s204, totals.s2xx, totals.s3xx, totals.s4xx, totals.s5xx, totals.sother))
end
"""


def run_wrk(
    url: str,
    body: bytes,
    headers: dict[str, str],
    duration_s: float,
    connections: int,
    rate: float | None = None,
    threads: int = 2,
) -> LoadResult:
    threads = max(1, min(threads, connections))
    header_lines = "\n".join(
        f'wrk.headers["{name}"] = [==[{value}]==]' for name, value in headers.items()
    )
    script = _LUA % {
        "body": body.decode(),
        "headers": header_lines,
        "rate": (rate or 0) / threads,
        "mark": WRK_MARK,
        "count_statuses": LUA_COUNT_STATUSES,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
        path = Path(handle.name)
    seconds = max(1, round(duration_s))
    try:
        done = subprocess.run(
            [
                *("wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s"),
                *("--timeout", "2s", "-s", str(path), url),
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=False,
        )
    finally:
        path.unlink(missing_ok=True)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith(WRK_MARK)), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    data = json.loads(line[len(WRK_MARK) :])
    return LoadResult(
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


# -- Python fallback (used only without wrk; it costs CPU that the servers then lack) --------


def run_python(
    url: str,
    body: bytes,
    headers: dict[str, str],
    duration_s: float,
    connections: int,
    rate: float | None = None,
) -> LoadResult:
    return asyncio.run(_run_python(url, body, headers, duration_s, connections, rate))


async def _run_python(
    url: str,
    body: bytes,
    headers: dict[str, str],
    duration_s: float,
    connections: int,
    rate: float | None,
) -> LoadResult:
    latencies: list[float] = []
    status: dict[str, int] = {}
    errors = 0
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=2)
    all_headers = {"Content-Type": "application/json", **headers}
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one() -> None:
            nonlocal errors
            started = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=all_headers) as response:
                    await response.read()
                    code = response.status
            except (aiohttp.ClientError, TimeoutError, OSError):
                errors += 1
                return
            latencies.append((time.perf_counter() - started) * 1000)
            key = str(code) if code in (200, 204) else f"{code // 100}xx"
            status[key] = status.get(key, 0) + 1

        started = time.perf_counter()
        end = started + duration_s
        if rate is None:

            async def worker() -> None:
                while time.perf_counter() < end:
                    await one()

            await asyncio.gather(*(worker() for _ in range(connections)))
        else:
            interval, sent = 1 / rate, 0
            tasks: set[asyncio.Task[None]] = set()
            while (now := time.perf_counter()) < end:
                due = started + sent * interval
                if due > now:
                    await asyncio.sleep(due - now)
                    continue
                if len(tasks) < connections:
                    task = asyncio.create_task(one())
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                sent += 1
            await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        if not ordered:
            return math.nan
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]

    return LoadResult(
        requests=len(ordered) + errors,
        duration_s=elapsed,
        p50_ms=pct(50),
        p90_ms=pct(90),
        p99_ms=pct(99),
        max_ms=ordered[-1] if ordered else math.nan,
        status=status,
        socket_errors=errors,
        tool="python",
    )


def run(
    url: str,
    body: bytes,
    headers: dict[str, str],
    duration_s: float,
    connections: int,
    rate: float | None = None,
) -> LoadResult:
    if wrk_available():
        return run_wrk(url, body, headers, duration_s, connections, rate)
    return run_python(url, body, headers, duration_s, connections, rate)

"""Fake OpenRTB bidders for the benchmark, in a process of their own.

Each bidder is a `DemoBidders` server on its own port (like distinct exchanges, so each gets its
own keep-alive pool in the client). Profiles are deterministic: always bid, fixed price and
latency, never fail; one extra bidder (`hang`) never answers. Prints one JSON line
`{"endpoints": {name: url}}` on stdout once listening, then serves until SIGTERM/SIGINT.

    python bench/bidders.py --count 5 --latency-ms 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from typing import Any

import uvloop

from apex_mediation.demo.bidders import BidderProfile, DemoBidders

HANG = "hang"


def profiles(count: int, latency_ms: float) -> list[BidderProfile]:
    def fixed(name: str, **kwargs: Any) -> BidderProfile:
        return BidderProfile(
            name, bid_rate=1.0, price_sigma=0.0, latency_sigma=0.0, error_rate=0.0, **kwargs
        )

    made = [
        fixed(f"bidder{i}", price_median_cpm=1.0 + 0.25 * i, latency_median_ms=latency_ms)
        for i in range(count)
    ]
    made.append(fixed(HANG, behaviour="hang", latency_median_ms=1))
    return made


async def serve(count: int, latency_ms: float) -> None:
    servers = [DemoBidders([p]) for p in profiles(count, latency_ms)]
    for server in servers:
        await server.start()
    endpoints = {name: s.endpoint(name) for s in servers for name in s.profiles}
    print(json.dumps({"endpoints": endpoints}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for server in servers:
            await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=5)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()
    uvloop.run(serve(args.count, args.latency_ms))
    sys.exit(0)


if __name__ == "__main__":
    main()

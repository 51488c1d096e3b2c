"""The Python ceiling for an auction: a bare ASGI callable (no framework) that reads the body,
fans out a minimal OpenRTB request to the placement's bidders with one aiohttp `ClientSession`
(keep-alive, the same connector limits as Apex's `BidderTransport`), waits at most tmax with
`asyncio.wait`, and answers with the best bid as JSON (204 when nobody bid).

Served by uvicorn exactly as `apex serve` serves Apex: `uvicorn.Config` defaults with
`log_config=None, access_log=False, proxy_headers=True`, and `Server.serve()` inside
`asyncio.run()` (so the stdlib event loop, as in `apex serve`). `--loop uvloop` runs it on uvloop.

    python bench/baseline_app.py --port 9001 --tmax-ms 200 \
        --placements '{"<placement id>": ["http://127.0.0.1:…/openrtb/bidder0", …]}'
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from typing import Any

import aiohttp
import msgspec
import uvicorn

Scope = dict[str, Any]
Message = dict[str, Any]


class BaselineAuction:
    def __init__(self, placements: dict[str, list[str]], tmax_ms: float) -> None:
        self.placements = placements
        self.tmax_s = tmax_ms / 1000
        self.session: aiohttp.ClientSession | None = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                connector = aiohttp.TCPConnector(limit=1000, limit_per_host=200)
                self.session = aiohttp.ClientSession(connector=connector)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.session is not None:
                    await self.session.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, receive: Any, send: Any) -> None:
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            request = msgspec.json.decode(body)
            endpoints = self.placements[request["placement_id"]]
        except (msgspec.DecodeError, KeyError, TypeError):
            await _respond(send, 400, b'{"error":"bad request"}')
            return
        ortb = msgspec.json.encode(
            {
                "id": request.get("request_id") or "r",
                "imp": [{"id": "1", "bidfloor": request.get("floor_cpm") or 0}],
                "app": {"id": request.get("app_id") or ""},
                "device": request.get("device_info") or {},
                "tmax": int(self.tmax_s * 1000),
            }
        )
        tasks = [asyncio.create_task(self._bid(url, ortb)) for url in endpoints]
        done, pending = await asyncio.wait(tasks, timeout=self.tmax_s)
        for task in pending:
            task.cancel()
        bids = [bid for task in done if (bid := task.result()) is not None]
        if not bids:
            await _respond(send, 204, b"")
            return
        best = max(bids, key=lambda b: b["price"])
        await _respond(send, 200, msgspec.json.encode({"winner": best, "no_fill": False}))

    async def _bid(self, url: str, ortb: bytes) -> dict[str, Any] | None:
        assert self.session is not None
        try:
            async with self.session.post(
                url, data=ortb, headers={"Content-Type": "application/json"}
            ) as response:
                if response.status != 200:
                    return None
                reply = msgspec.json.decode(await response.read())
        except (aiohttp.ClientError, msgspec.DecodeError, OSError):
            return None
        bids = [b for seat in reply.get("seatbid") or [] for b in seat.get("bid") or []]
        return max(bids, key=lambda b: b["price"]) if bids else None


async def _respond(send: Any, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json")] if body else []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tmax-ms", type=float, default=200)
    parser.add_argument("--placements", required=True, help="JSON: placement id -> bidder URLs")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    args = parser.parse_args()
    app = BaselineAuction(json.loads(args.placements), args.tmax_ms)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=args.host,
            port=args.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            proxy_headers=True,
        )
    )
    if args.loop == "uvloop":
        import uvloop

        runner: Any = uvloop.run
    else:
        runner = asyncio.run
    with contextlib.suppress(KeyboardInterrupt):
        runner(server.serve())


if __name__ == "__main__":
    main()

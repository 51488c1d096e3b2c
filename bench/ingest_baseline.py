"""The Python ceiling for a beacon: a bare ASGI callable (no framework, no work) that answers
every request with an empty 204, as Apex answers an accepted beacon.

Served by uvicorn exactly as `apex serve` serves Apex (cli.py `_run_serving`): `uvicorn.Config`
defaults (so httptools when installed) with `log_config=None, access_log=False, lifespan="on",
proxy_headers=True`, and `Server.serve()` on a uvloop event loop.

    python bench/ingest_baseline.py --port 9001
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import Any

import uvicorn

Scope = dict[str, Any]

NO_STORE = [(b"cache-control", b"no-store")]


async def app(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    elif scope["type"] == "http":
        await send({"type": "http.response.start", "status": 204, "headers": NO_STORE})
        await send({"type": "http.response.body", "body": b""})


def framework_app() -> Any:
    """The second reference (`--framework`): FastAPI, as Apex configures it (no OpenTelemetry
    hooks), with the beacon routes answering 204 and no middleware or work. What separates it
    from the bare callable is the framework's own cost, which no FastAPI app can avoid."""
    from fastapi import FastAPI, Response

    fast = FastAPI(
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False}
    )

    async def accepted() -> Response:
        return Response(status_code=204, headers={"cache-control": "no-store"})

    for path in ("/t/imp", "/t/click", "/t/reward", "/t/video/{event}", "/"):
        fast.add_api_route(path, accepted, methods=["GET", "POST"])
    return fast


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--framework", action="store_true", help="serve framework_app()")
    args = parser.parse_args()
    server = uvicorn.Server(
        uvicorn.Config(
            framework_app() if args.framework else app,
            host=args.host,
            port=args.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            proxy_headers=True,
        )
    )
    try:
        import uvloop
    except ImportError:  # as `apex serve`: the stdlib loop when uvloop is missing
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(server.serve())
        return
    with (
        contextlib.suppress(KeyboardInterrupt),
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        runner.run(server.serve())


if __name__ == "__main__":
    main()

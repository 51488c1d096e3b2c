"""Structured JSON logs (one object per line, ready for Loki/Promtail) with request ids."""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import sys

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_HANDLER = "apex-json"
QUIET = ("httpx", "httpcore")


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stdout is at the time (tests and tools redirect it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def configure_logging(level: str = "INFO", json_output: bool = True) -> None:
    """structlog's loggers and the standard library's (every module's `logging.getLogger`,
    uvicorn's) render the same way: one JSON object per line on stdout with the timestamp, the
    level, the logger's name and the request id of the request being served."""
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    handler = _StdoutHandler()
    handler.set_name(_HANDLER)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[
                *shared,
                structlog.stdlib.add_logger_name,
                structlog.processors.format_exc_info,
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER]:
        root.removeHandler(old)  # configured again (tests, the CLI): one handler, not two
    root.addHandler(handler)
    root.setLevel(level.upper())
    # httpx logs each request's URL at INFO, and a Slack webhook's URL is its secret.
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))


class _RequestIds:
    """32 hex digits: a random per-process prefix and a counter. A uuid4 per request costs a
    getrandom() call and a UUID object, measurable on the beacon path (docs/benchmarks.md)."""

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count()

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


new_request_id = _RequestIds().next


class RequestIdMiddleware:
    """Takes X-Request-Id from the caller (or makes one), binds it to the logs and echoes it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")[:64]
                break
        request_id = request_id or new_request_id()
        structlog.contextvars.bind_contextvars(request_id=request_id)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")

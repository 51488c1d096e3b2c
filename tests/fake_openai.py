"""A local stand-in for OpenAI's chat completions API, for the tests: enough of
`POST /v1/chat/completions` for the official SDK, with real token usage in every answer, and
controls to fail, slow down or answer at a chosen size."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class FakeOpenAI:
    host: str = "127.0.0.1"
    port: int = 0
    api_key: str = field(default_factory=lambda: "sk-fake-" + secrets.token_hex(12))
    # What each answer reports: a fixed completion size (capped by max_tokens) and a prompt
    # of about four bytes per token, as English text tokenises.
    completion_tokens: int = 50
    answer: str | None = None  # a fixed reply (its tokens counted at ~4 bytes each)
    delay_s: float = 0.0
    requests: int = 0
    bodies: list[dict[str, Any]] = field(default_factory=list)
    _failures: list[int] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        self._failures.extend([status] * n)

    @classmethod
    @asynccontextmanager
    async def running(cls, **options: Any) -> AsyncIterator[FakeOpenAI]:
        fake = cls(**options)
        await fake.start()
        try:
            yield fake
        finally:
            await fake.stop()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._complete)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @staticmethod
    def _error(status: int, message: str, kind: str) -> web.Response:
        body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
        return web.json_response(body, status=status)

    async def _complete(self, request: web.Request) -> web.Response:
        self.requests += 1
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._error(401, "Incorrect API key provided.", "invalid_request_error")
        body = await request.json()
        self.bodies.append(body)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self._failures:
            status = self._failures.pop(0)
            return self._error(status, "The server had an error.", "server_error")
        if not isinstance(body.get("messages"), list) or not body.get("model"):
            return self._error(400, "model and messages are required", "invalid_request_error")
        prompt_bytes = sum(len(json.dumps(m).encode()) for m in body["messages"])
        prompt_tokens = max(1, prompt_bytes // 4)
        limit = int(body.get("max_tokens") or body.get("max_completion_tokens") or 4096)
        completion = min(
            self.completion_tokens if self.answer is None else max(1, len(self.answer) // 4),
            limit,
        )
        content = "word " * completion if self.answer is None else self.answer
        return web.json_response(
            {
                "id": "chatcmpl-" + secrets.token_hex(8),
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "length" if completion == limit else "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion,
                    "total_tokens": prompt_tokens + completion,
                },
            }
        )

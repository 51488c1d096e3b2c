"""Apps of their own for the security tests: the shared stores, settings changed per test (small
limits, a Redis URL), and an own data directory so that their ingest logs stay apart."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from apex_mediation.app import create_app
from apex_mediation.sdk.config_signing import create_key
from apex_mediation.services import Services
from tests.conftest import PHONE_BROWSER

BuildApp = Callable[..., Awaitable[FastAPI]]


@pytest.fixture
async def build_app(services: Services, tmp_path: Path) -> AsyncIterator[BuildApp]:
    """`await build_app(rate_api_per_ip="5/minute")`: a started app with those settings."""
    async with AsyncExitStack() as stack:

        async def build(**overrides: Any) -> FastAPI:
            data_dir = tmp_path / f"app-{secrets.token_hex(3)}"
            create_key(data_dir / "keys")
            settings = services.settings.model_copy(update={"data_dir": data_dir, **overrides})
            app = create_app(services=dataclasses.replace(services, settings=settings))
            await stack.enter_async_context(app.router.lifespan_context(app))
            return app

        yield build


def client_of(
    app: FastAPI, ip: str = "127.0.0.1", base_url: str = "http://testserver"
) -> httpx.AsyncClient:
    """A client of `app` that the app sees coming from `ip`."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(ip, 40000)),
        base_url=base_url,
        headers={"User-Agent": PHONE_BROWSER},
    )

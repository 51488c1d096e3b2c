"""A publisher with one object of every kind the API names by id, and a platform operator.

The OpenAPI-wide tests (tenant isolation, schemathesis) fill path parameters from here: a path
parameter whose name is not in `PATH_KINDS` fails those tests until it is added, so that a new
route cannot go untested.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from apex_mediation.accounts.publishers import create_publisher
from apex_mediation.billing import invoicing
from apex_mediation.billing.runtime import BillingRuntime
from apex_mediation.demo.fake_stripe import FakeStripe
from apex_mediation.services import Services
from tests.helpers import Tenant

# path parameter name -> the kind of object it names
PATH_KINDS = {
    "app_id": "app",
    "placement_id": "placement",
    "account_id": "account",
    "key_id": "key",
    "invoice_id": "invoice",
    "auction_id": "auction",
    "request_id": "privacy_request",
}

# Operations anyone may call, without a publisher: they hold no publisher's objects.
PUBLIC_OPERATIONS = {
    "GET /health": "liveness probe: a constant body",
    "GET /ready": "readiness probe: the stores' health, no publisher data",
    "POST /api/v1/auth/signup": "creates a new publisher of the caller's own",
    "POST /api/v1/auth/login": "opens a session for the credentials given",
    "POST /api/v1/auth/login/second-step": "the first step's token and a second factor",
    "POST /api/v1/auth/logout": "closes the caller's own session",
    "GET /api/v1/auth/me": "the caller's own user, from the caller's own session cookie",
    "GET /api/v1/privacy/exports/{request_id}/download": (
        "no login: the signed, expiring link is the credential (checked in tests/privacy)"
    ),
}


async def issue_invoice(services: Services, publisher_id: str) -> str:
    """Last month's invoice for the publisher (zero traffic: a zero invoice, still one)."""
    last_month = (dt.datetime.now(dt.UTC).date().replace(day=1) - dt.timedelta(days=1)).replace(
        day=1
    )
    async with services.postgres.session() as session:
        invoice, _ = await invoicing.issue(
            session, services.settings, uuid.UUID(publisher_id), last_month, dt.datetime.now(dt.UTC)
        )
        await session.commit()
        return str(invoice.id)


async def make_objects(tenant: Tenant, services: Services) -> dict[str, str]:
    """One object of each kind. The placement sits on an app of its own, so that deleting the
    `app` object leaves the placement's routes something to work on."""
    app = await tenant.android_app()
    host = await tenant.android_app(name="Host", bundleId="com.example.host")
    placement = await tenant.create(
        "/api/v1/placements", {"name": "p", "appId": host["id"], "format": "banner"}
    )
    account = await tenant.create(
        "/api/v1/network-accounts",
        {"network": "admob", "name": "main", "credentials": {"app_id": "ca-app-pub-123~456"}},
    )
    key = await tenant.create("/api/v1/api-keys", {"name": "spare", "scopes": ["reporting"]})
    export = await tenant.session_call("POST", "/api/v1/privacy/exports")
    assert export.status_code == 202, export.text
    return {
        "app": app["id"],
        "placement": placement["id"],
        "account": account["id"],
        "key": key["id"],
        "invoice": await issue_invoice(services, tenant.publisher_id),
        "privacy_request": export.json()["id"],
        # Receipts of real auctions are checked in tests/sdk/test_receipts.py; an auction id
        # here has only to be well formed.
        "auction": "a" + placement["id"].replace("-", ""),
    }


@dataclass
class Operator:
    http: httpx.AsyncClient
    csrf: str
    user_id: str


async def log_in_operator(services: Services, http: httpx.AsyncClient) -> Operator:
    """A new platform operator, logged in on `http` through the API."""
    email = f"operator-{secrets.token_hex(4)}@example.com"
    password = "operator-password-" + secrets.token_hex(6)
    async with services.postgres.session() as session:
        created = await create_publisher(
            session,
            name="Apex Operations",
            owner_email=email,
            owner_password=password,
            is_platform_operator=True,
        )
        await session.commit()
    response = await http.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return Operator(http, response.json()["csrfToken"], str(created.owner.id))


@asynccontextmanager
async def live_stripe(
    app: FastAPI, services: Services, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FakeStripe]:
    """The app talking to a local Stripe stand-in: its keys in the settings (put back by
    `monkeypatch`), a gateway built from them in place of the app's (which had none)."""
    async with FakeStripe.running(host="127.0.0.1", port=0) as fake:
        settings = services.settings
        monkeypatch.setattr(settings, "stripe_secret_key", SecretStr(fake.api_key))
        monkeypatch.setattr(settings, "stripe_webhook_secret", SecretStr(fake.webhook_secret))
        monkeypatch.setattr(settings, "stripe_api_base", fake.base_url)
        async with swapped_runtime(app, "billing", BillingRuntime.start(services)):
            yield fake


@asynccontextmanager
async def swapped_runtime(app: FastAPI, name: str, runtime: Any) -> AsyncIterator[None]:
    """`app.state.<name>` replaced, then stopped and the app's own put back. (Not monkeypatch:
    it would delete, not restore, an attribute that `State` keeps outside `__dict__`.)"""
    original = getattr(app.state, name)
    setattr(app.state, name, runtime)
    try:
        yield
    finally:
        setattr(app.state, name, original)
        await runtime.stop()

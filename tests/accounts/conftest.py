"""Account-security fixtures: users made through the domain, clients each on its own IP (so the
per-IP request limits of one test never meet another's), and codes from an authenticator."""

from __future__ import annotations

import datetime as dt
import itertools
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from apex_mediation.accounts.publishers import create_publisher
from apex_mediation.db.models import AuditLog, UserTwoFactor
from apex_mediation.services import Services

PASSWORD = "violet kettle drums at noon"
_ips = itertools.count(1)


@dataclass
class Person:
    user_id: uuid.UUID
    email: str
    password: str
    publisher_id: uuid.UUID


async def new_person(services: Services) -> Person:
    email = f"sec-{secrets.token_hex(5)}@example.com"
    async with services.postgres.session() as session:
        created = await create_publisher(
            session, name="Secure Co", owner_email=email, owner_password=PASSWORD
        )
        await session.commit()
    return Person(created.owner.id, email, PASSWORD, created.publisher.id)


@pytest.fixture
async def person(services: Services) -> Person:
    return await new_person(services)


ClientFactory = Callable[[], httpx.AsyncClient]


@pytest.fixture
async def own_ip_client(app: FastAPI) -> AsyncIterator[ClientFactory]:
    """New clients, each with its own cookie jar and its own client address."""
    opened: list[httpx.AsyncClient] = []

    def make() -> httpx.AsyncClient:
        n = next(_ips)
        ip = f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(ip, 40000)),
            base_url="http://testserver",
        )
        opened.append(client)
        return client

    yield make
    for client in opened:
        await client.aclose()


async def api_login(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await http.post("/api/v1/auth/login", json={"email": email, "password": password})


async def logged_in(http: httpx.AsyncClient, person: Person) -> str:
    """Log `http` in through the API; the session's CSRF token."""
    response = await api_login(http, person.email, person.password)
    assert response.status_code == 200, response.text
    csrf: str = response.json()["csrfToken"]
    return csrf


async def fresh_code(services: Services, user_id: uuid.UUID, secret: str) -> str:
    """A code the server accepts now: the current time step, or the next one when the current
    step was already used (each step is accepted once)."""
    async with services.postgres.session() as session:
        last = await session.scalar(
            select(UserTwoFactor.last_used_step).where(UserTwoFactor.user_id == user_id)
        )
    totp = pyotp.TOTP(secret)
    step = totp.timecode(dt.datetime.now(dt.UTC))
    if last is not None and last >= step:
        step = last + 1
    return totp.generate_otp(step)


async def audit_actions(services: Services, user_id: uuid.UUID) -> list[str]:
    async with services.postgres.session() as session:
        rows = await session.scalars(
            select(AuditLog.action).where(AuditLog.actor_id == str(user_id)).order_by(AuditLog.id)
        )
        return list(rows)

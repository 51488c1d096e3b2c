"""Console fixtures: a browser-less client that signs up through the console's own forms."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import pytest

from apex_mediation.accounts.publishers import create_publisher
from apex_mediation.services import Services

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class ConsoleUser:
    http: httpx.AsyncClient
    email: str
    password: str

    async def csrf(self, page: str = "/dashboard") -> str:
        html = (await self.http.get(page)).text
        found = CSRF.search(html)
        assert found, f"no CSRF token on {page}"
        return found.group(1)

    async def post(
        self, url: str, data: dict[str, str], page: str = "/dashboard"
    ) -> httpx.Response:
        return await self.http.post(url, data={**data, "csrf_token": await self.csrf(page)})

    async def log_in(self) -> None:
        """Log in again through the form (after something ended this user's sessions)."""
        response = await self.http.post(
            "/login", data={"email": self.email, "password": self.password}
        )
        assert response.status_code == 303, response.text


async def sign_up(http: httpx.AsyncClient, name: str | None = None) -> ConsoleUser:
    email = f"console-{secrets.token_hex(4)}@example.com"
    password = "console-password-" + secrets.token_hex(4)
    response = await http.post(
        "/signup",
        data={"publisher_name": name or "Console Games", "email": email, "password": password},
    )
    assert response.status_code == 303, response.text
    return ConsoleUser(http, email, password)


@pytest.fixture
async def console(
    make_client: Callable[[], httpx.AsyncClient],
) -> AsyncIterator[ConsoleUser]:
    async with make_client() as http:
        yield await sign_up(http)


async def log_in_operator(http: httpx.AsyncClient, services: Services) -> uuid.UUID:
    """A new platform operator, logged in on `http` through the console's form; its user id."""
    email = f"operator-{secrets.token_hex(4)}@example.com"
    password = "operator-password-" + secrets.token_hex(4)
    async with services.postgres.session() as session:
        created = await create_publisher(
            session,
            name="Apex Operations",
            owner_email=email,
            owner_password=password,
            is_platform_operator=True,
        )
        await session.commit()
    response = await http.post("/login", data={"email": email, "password": password})
    assert response.status_code == 303
    return created.owner.id

"""A publisher under test: its console session and a management API key."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx

PASSWORD = "correct horse battery staple"


@dataclass
class Tenant:
    http: httpx.AsyncClient  # carries the console session cookie
    email: str
    publisher_id: str
    csrf: str
    key: str
    ids: dict[str, str] = field(default_factory=dict)

    @classmethod
    async def signup(cls, http: httpx.AsyncClient, name: str | None = None) -> Tenant:
        email = f"owner-{secrets.token_hex(6)}@example.com"
        response = await http.post(
            "/api/v1/auth/signup",
            json={
                "email": email,
                "password": PASSWORD,
                "publisherName": name or f"Publisher {secrets.token_hex(3)}",
            },
        )
        assert response.status_code == 201, response.text
        me = response.json()
        tenant = cls(
            http=http,
            email=email,
            publisher_id=me["publishers"][0]["id"],
            csrf=me["csrfToken"],
            key="",
        )
        issued = await tenant.session_call(
            "POST",
            "/api/v1/api-keys",
            json={"name": "tests", "scopes": ["management", "reporting"]},
        )
        assert issued.status_code == 201, issued.text
        tenant.key = issued.json()["key"]
        return tenant

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    async def call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """With the management API key (the key wins over any session cookie)."""
        headers = {**self.auth, **kwargs.pop("headers", {})}
        return await self.http.request(method, url, headers=headers, **kwargs)

    async def session_call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """With the console session cookie and its CSRF token."""
        headers = {"X-CSRF-Token": self.csrf, **kwargs.pop("headers", {})}
        return await self.http.request(method, url, headers=headers, **kwargs)

    async def create(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.call("POST", url, json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def android_app(self, **overrides: Any) -> dict[str, Any]:
        return await self.create(
            "/api/v1/apps",
            {"name": "Game", "platform": "android", "bundleId": "com.example.game", **overrides},
        )

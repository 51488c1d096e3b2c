"""Apps through the console's forms: create, edit, delete, SDK keys shown once, the integration
snippet, role restrictions and another publisher's ids."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from apex_mediation.accounts.passwords import hash_password
from apex_mediation.db.models import App, Membership, User
from apex_mediation.services import Services
from tests.console.conftest import ConsoleUser

NEW_KEY = re.compile(r'data-testid="new-key">(apx_sdk_[^<]+)<')


async def create_app(console: ConsoleUser, **fields: str) -> str:
    """An app made through the form; its id."""
    data = {"name": "Space Game", "platform": "android", "bundle_id": "com.example.space"}
    response = await console.post("/apps", {**data, **fields}, "/apps/new")
    assert response.status_code == 303, response.text
    found = re.fullmatch(r"/apps/([0-9a-f-]{36})\?flash=created", response.headers["location"])
    assert found, response.headers["location"]
    return found.group(1)


async def publisher_of(console: ConsoleUser) -> uuid.UUID:
    me = (await console.http.get("/api/v1/auth/me")).json()
    return uuid.UUID(me["publishers"][0]["id"])


@asynccontextmanager
async def member(
    services: Services,
    make_client: Callable[[], httpx.AsyncClient],
    publisher_id: uuid.UUID,
    role: str,
) -> AsyncIterator[ConsoleUser]:
    """Another user of the same publisher with `role`, logged in through the console."""
    email = f"{role}-{secrets.token_hex(4)}@example.com"
    password = "member-password-" + secrets.token_hex(4)
    async with services.postgres.session() as session:
        user = User(email=email, password_hash=hash_password(password))
        session.add(user)
        await session.flush()
        session.add(Membership(user_id=user.id, publisher_id=publisher_id, role=role))
        await session.commit()
    async with make_client() as http:
        login = await http.post("/login", data={"email": email, "password": password})
        assert login.status_code == 303, login.text
        yield ConsoleUser(http, email, password)


async def test_welcome_create_list_and_detail(console: ConsoleUser, services: Services) -> None:
    welcome = await console.http.get("/apps?welcome=1")
    assert welcome.status_code == 200
    assert "Create your first app" in welcome.text
    app_id = await create_app(console)
    listed = await console.http.get("/apps")
    assert f'href="/apps/{app_id}"' in listed.text and "Space Game" in listed.text
    assert "Android" in listed.text
    assert '<div class="table-wrap">' in listed.text
    page = await console.http.get(f"/apps/{app_id}?flash=created")
    assert page.status_code == 200
    assert 'role="status">Created.' in page.text
    base = services.settings.base_url
    # The snippet carries the real app id and this server's URL, and the raw request to check.
    assert f".appId(&#34;{app_id}&#34;)" in page.text
    assert f"{base}/v1/auction" in page.text
    assert "implementation(&#34;com.rivalapexmediation.sdk:core" in page.text
    assert 'data-confirm="Delete Space Game' in page.text
    assert "<script>" not in page.text and "style=" not in page.text


async def test_platform_snippets(console: ConsoleUser) -> None:
    web = await create_app(
        console,
        name="News",
        platform="web",
        bundle_id="",
        domain="News.Example",
        allowed_origins="https://news.example\r\n\r\nhttps://www.news.example/\r\n",
    )
    page = (await console.http.get(f"/apps/{web}")).text
    assert "&lt;script src=" in page  # the tag is shown, never run
    assert f"appId: &#39;{web}&#39;" in page
    assert "https://news.example, https://www.news.example" in page
    assert "news.example" in page  # the domain, lower-cased by the spec
    ctv = await create_app(console, name="TV", platform="ctv", bundle_id="")
    assert "/api/v1/rtb/bid" in (await console.http.get(f"/apps/{ctv}")).text
    ios = await create_app(console, name="iPhone", platform="ios", bundle_id="com.example.ios")
    assert "BelAds.initialize(appId:" in (await console.http.get(f"/apps/{ios}")).text
    unity = await create_app(console, name="Unity", platform="unity", bundle_id="com.example.u")
    assert "new ApexConfig" in (await console.http.get(f"/apps/{unity}")).text


async def test_create_errors_name_the_field_and_keep_what_was_typed(console: ConsoleUser) -> None:
    web = await console.post(
        "/apps",
        {"name": "My Site", "platform": "web", "allowed_origins": "https://a.example"},
        "/apps/new",
    )
    assert web.status_code == 400
    assert 'role="alert"' in web.text and "domain: a web app needs its domain" in web.text
    assert 'value="My Site"' in web.text and "https://a.example</textarea>" in web.text
    assert '<option value="web" selected>' in web.text
    bundle = await console.post(
        "/apps", {"name": "G", "platform": "android", "bundle_id": "com example"}, "/apps/new"
    )
    assert bundle.status_code == 400 and "bundle id: bundle id may hold" in bundle.text
    assert 'value="com example"' in bundle.text
    origin = await console.post(
        "/apps",
        {"name": "S", "platform": "web", "domain": "s.example", "allowed_origins": "s.example"},
        "/apps/new",
    )
    assert origin.status_code == 400 and "allowed web origins:" in origin.text
    empty = await console.post("/apps", {"name": "", "platform": "tv"}, "/apps/new")
    assert empty.status_code == 400 and "name:" in empty.text
    assert "Space Game" not in (await console.http.get("/apps")).text


async def test_edit_app(console: ConsoleUser, services: Services) -> None:
    app_id = await create_app(console)
    saved = await console.post(
        f"/apps/{app_id}",
        {"name": "Space Game 2", "bundle_id": "com.example.space2", "test_mode": "on"},
        f"/apps/{app_id}",
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"/apps/{app_id}?flash=saved"
    page = (await console.http.get(f"/apps/{app_id}")).text
    assert 'value="Space Game 2"' in page and 'name="test_mode" checked' in page
    assert 'id="app-status"' in page and 'id="app-platform"' not in page  # fixed once made
    bad = await console.post(
        f"/apps/{app_id}",
        {"name": "Renamed", "bundle_id": "com.example.space2", "allowed_origins": "ftp://x"},
        f"/apps/{app_id}",
    )
    assert bad.status_code == 400
    assert "allowed web origins:" in bad.text and 'value="Renamed"' in bad.text
    async with services.postgres.session() as session:
        app = await session.get(App, uuid.UUID(app_id))
        assert app is not None
        assert (app.name, app.test_mode, app.bundle_id) == (
            "Space Game 2",
            True,
            "com.example.space2",
        )


async def test_an_sdk_key_is_shown_once_and_can_be_revoked(
    console: ConsoleUser, app: FastAPI
) -> None:
    app_id = await create_app(console)
    created = await console.post(f"/apps/{app_id}/keys", {"name": "release"}, f"/apps/{app_id}")
    assert created.status_code == 200
    found = NEW_KEY.search(created.text)
    assert found, created.text
    secret = found.group(1)
    assert 'class="secret"' in created.text and 'data-copy="new-key"' in created.text
    assert created.headers["cache-control"] == "no-store"
    again = (await console.http.get(f"/apps/{app_id}")).text
    assert secret not in again and secret[:12] in again and "release" in again
    # The key is a working SDK key of this app.
    await app.state.auction.snapshots.refresh()
    config = await console.http.get(f"/v1/config/{app_id}", headers={"X-Api-Key": secret})
    assert config.status_code == 200
    key_id = re.search(rf"/apps/{app_id}/keys/([0-9a-f-]{{36}})/revoke", again)
    assert key_id
    revoked = await console.post(f"/apps/{app_id}/keys/{key_id.group(1)}/revoke", {})
    assert revoked.status_code == 303
    after = await console.http.get(revoked.headers["location"])
    assert secret[:12] not in after.text and "The key is revoked" in after.text
    await app.state.auction.snapshots.refresh()
    refused = await console.http.get(f"/v1/config/{app_id}", headers={"X-Api-Key": secret})
    assert refused.status_code == 401


async def test_delete_app(console: ConsoleUser) -> None:
    app_id = await create_app(console)
    deleted = await console.post(f"/apps/{app_id}/delete", {})
    assert deleted.status_code == 303 and deleted.headers["location"] == "/apps?flash=deleted"
    assert (await console.http.get(f"/apps/{app_id}")).status_code == 404


async def test_a_read_only_member_sees_but_cannot_change(
    console: ConsoleUser, services: Services, make_client: Callable[[], httpx.AsyncClient]
) -> None:
    app_id = await create_app(console)
    publisher = await publisher_of(console)
    async with member(services, make_client, publisher, "read_only") as viewer:
        listed = (await viewer.http.get("/apps")).text
        assert "Space Game" in listed and 'href="/apps/new"' not in listed
        page = (await viewer.http.get(f"/apps/{app_id}")).text
        assert '<fieldset class="plain" disabled>' in page
        assert "Create SDK key" not in page and "Delete app" not in page
        assert ">Save</button>" not in page
        assert (await viewer.http.get("/apps/new")).status_code == 403
        edit = await viewer.post(
            f"/apps/{app_id}", {"name": "Hacked", "bundle_id": "a.b"}, f"/apps/{app_id}"
        )
        assert edit.status_code == 403 and "member role" in edit.text
        key = await viewer.post(f"/apps/{app_id}/keys", {"name": "k"}, f"/apps/{app_id}")
        assert key.status_code == 403
        delete = await viewer.post(f"/apps/{app_id}/delete", {}, f"/apps/{app_id}")
        assert delete.status_code == 403
    async with member(services, make_client, publisher, "member") as editor:
        page = (await editor.http.get(f"/apps/{app_id}")).text
        assert ">Save</button>" in page and "Create SDK key" not in page
        assert "Delete app" not in page
        edit = await editor.post(
            f"/apps/{app_id}", {"name": "By member", "bundle_id": "a.b"}, f"/apps/{app_id}"
        )
        assert edit.status_code == 303


async def test_another_publishers_app_is_not_found(
    console: ConsoleUser, make_client: Callable[[], httpx.AsyncClient]
) -> None:
    from tests.console.conftest import sign_up

    app_id = await create_app(console)
    async with make_client() as http:
        other = await sign_up(http, "Other Studio")
        page = await other.http.get(f"/apps/{app_id}")
        assert page.status_code == 404 and "app not found" in page.text
        edit = await other.post(f"/apps/{app_id}", {"name": "Mine", "bundle_id": "a.b"})
        assert edit.status_code == 404
        delete = await other.post(f"/apps/{app_id}/delete", {})
        assert delete.status_code == 404
        assert "Space Game" not in (await other.http.get("/apps")).text
    assert (await console.http.get("/apps/not-an-id")).status_code == 404
    assert (await console.http.get(f"/apps/{app_id}")).status_code == 200

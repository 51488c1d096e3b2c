"""The console's privacy page: an owner requests an export and downloads it, and erases the
account after typing its name and the password."""

from __future__ import annotations

import html
import re

from apex_mediation.jobs.runner import run_job
from apex_mediation.services import Services
from tests.helpers import PASSWORD, Tenant


async def _publisher_name(tenant: Tenant) -> str:
    me = await tenant.http.get("/api/v1/auth/me")
    names = [p["name"] for p in me.json()["publishers"] if p["id"] == tenant.publisher_id]
    return str(names[0])


async def test_an_owner_exports_from_the_console(tenant: Tenant, services: Services) -> None:
    page = await tenant.http.get("/settings/privacy")
    assert page.status_code == 200 and "Erase this account" in page.text
    asked = await tenant.http.post(
        "/settings/privacy/export", data={"csrf_token": tenant.csrf}, follow_redirects=False
    )
    assert asked.status_code == 303
    assert (await run_job(services, "privacy_requests", trigger="test")).outcome == "ok"
    page = await tenant.http.get("/settings/privacy")
    links = re.findall(r'href="(/api/v1/privacy/exports/[^"]+)"', page.text)
    assert len(links) == 1
    download = await tenant.http.get(html.unescape(links[0]))
    assert download.status_code == 200 and download.content[:2] == b"PK"


async def test_erasure_asks_for_the_name_and_the_password(tenant: Tenant) -> None:
    name = await _publisher_name(tenant)
    form = {"csrf_token": tenant.csrf, "confirm": "something else", "password": PASSWORD}
    wrong_name = await tenant.http.post("/settings/privacy/erase", data=form)
    assert wrong_name.status_code == 400 and "confirm" in wrong_name.text
    form = {**form, "confirm": name, "password": "not the right password"}
    wrong_password = await tenant.http.post("/settings/privacy/erase", data=form)
    assert wrong_password.status_code == 400 and "password" in wrong_password.text
    no_csrf = await tenant.http.post(
        "/settings/privacy/erase", data={"confirm": name, "password": PASSWORD}
    )
    assert no_csrf.status_code == 403

    erased = await tenant.http.post("/settings/privacy/erase", data={**form, "password": PASSWORD})
    assert erased.status_code == 200, erased.text
    assert "The account was erased" in erased.text and "invoices" in erased.text
    after = await tenant.http.get("/settings/privacy", follow_redirects=False)
    assert after.status_code == 303 and after.headers["location"].startswith("/login")

"""The audit log pages: owners see their publisher's, operators everyone's, nobody else any."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable

import httpx

from apex_mediation.services import Services
from tests.api.test_audit_log import join
from tests.console.conftest import ConsoleUser, log_in_operator
from tests.helpers import Tenant


def _actions(html: str) -> list[str]:
    return re.findall(r'<tr data-action="([^"]+)">', html)


async def test_owner_page_lists_filters_and_exports(console: ConsoleUser) -> None:
    page = await console.http.get("/settings/audit-log")
    assert page.status_code == 200, page.text
    assert "publisher.created" in _actions(page.text)
    assert 'href="/settings/audit-log"' in page.text  # the tab shows to owners
    assert "digest" not in page.text.lower()
    assert (await console.http.get("/settings/audit-log?action=app")).text.count("<tr data-") == 0
    bad = await console.http.get("/settings/audit-log?start=yesterday")
    assert bad.status_code == 400 and "start: a date as YYYY-MM-DD" in bad.text
    exported = await console.http.get("/settings/audit-log.csv?action=publisher")
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [row["action"] for row in rows] == ["publisher.created"]
    assert rows[0]["actor"] == console.email


async def test_other_roles_get_403(
    tenant: Tenant, services: Services, make_client: Callable[[], httpx.AsyncClient]
) -> None:
    async with make_client() as member:
        await join(services, member, tenant, "admin")
        team = await member.get("/settings/team")
        assert 'href="/settings/audit-log"' not in team.text
        for path in ("/settings/audit-log", "/settings/audit-log.csv", "/operator/audit-log"):
            assert (await member.get(path)).status_code == 403, path
    assert (await tenant.session_call("GET", "/operator/audit-log")).status_code == 403
    assert (await tenant.session_call("GET", "/operator/audit-log.csv")).status_code == 403


async def test_operator_sees_every_publisher(
    tenant: Tenant,
    other_tenant: Tenant,
    services: Services,
    make_client: Callable[[], httpx.AsyncClient],
) -> None:
    async with make_client() as http:
        await log_in_operator(http, services)
        everyone = await http.get("/operator/audit-log?action=publisher.created")
        assert everyone.status_code == 200
        assert tenant.publisher_id[:7] in everyone.text
        assert other_tenant.publisher_id[:7] in everyone.text
        one = await http.get(f"/operator/audit-log.csv?publisher={tenant.publisher_id}")
        rows = list(csv.DictReader(io.StringIO(one.text)))
        assert {row["action"] for row in rows} >= {"publisher.created", "api_key.created"}
        assert tenant.email in {row["actor"] for row in rows}
        assert other_tenant.email not in one.text
        bad = await http.get("/operator/audit-log?publisher=nope")
        assert bad.status_code == 400 and "publisher" in bad.text

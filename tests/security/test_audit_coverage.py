"""Every sensitive action that exists today leaves its audit entry: it is performed through the
API or the console, as a person would, and its entry is then found by action, object, actor
and publisher, with the client's network prefix and without any secret in it.

Log-in, second-factor and password-change entries, and those of data export and erasure, are
covered by their own suites.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, func, select, update

from apex_mediation.accounts.identity import Actor
from apex_mediation.ai import budget
from apex_mediation.db.models import (
    AiBudgetMonth,
    AiFlag,
    AuditLog,
    Invitation,
    OptimizationRecord,
    User,
)
from apex_mediation.services import Services
from apex_mediation.tuning import settings as runtime_settings
from tests.helpers import Tenant
from tests.mailbox import Mailbox, mail_to
from tests.security.world import Operator, live_stripe, log_in_operator

KNOB = "cache.creative_ttl_s"


@pytest.fixture
def mailbox(services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    with mail_to(services.settings, monkeypatch) as box:
        yield box


@pytest.fixture
async def operator(
    services: Services, make_client: Callable[[], httpx.AsyncClient]
) -> AsyncIterator[Operator]:
    async with make_client() as http:
        yield await log_in_operator(services, http)


async def _since(services: Services) -> int:
    async with services.postgres.session() as session:
        return int(await session.scalar(select(func.coalesce(func.max(AuditLog.id), 0))) or 0)


@dataclass
class Audit:
    services: Services
    since: int

    async def find(
        self, action: str, object_id: str | None = None, actor_id: str | None = None
    ) -> AuditLog:
        """The one entry of this action (on this object, by this actor) since the test began."""
        query = select(AuditLog).where(AuditLog.id > self.since, AuditLog.action == action)
        if object_id is not None:
            query = query.where(AuditLog.object_id == object_id)
        if actor_id is not None:
            query = query.where(AuditLog.actor_id == actor_id)
        async with self.services.postgres.session() as session:
            rows = list(await session.scalars(query))
        assert len(rows) == 1, f"{action} on {object_id}: {len(rows)} entries"
        return rows[0]


@pytest.fixture
async def audit(services: Services) -> Audit:
    return Audit(services, await _since(services))


def _by(entry: AuditLog, tenant: Tenant, kind: str = "api_key") -> None:
    assert entry.actor_type == kind
    assert entry.publisher_id == uuid.UUID(tenant.publisher_id)
    assert entry.ip_prefix == "127.0.0.0/24"  # the test client's address, truncated


async def _key_id(tenant: Tenant) -> str:
    keys = (await tenant.session_call("GET", "/api/v1/api-keys")).json()
    return str(next(k["id"] for k in keys if tenant.key.startswith(k["prefix"])))


async def _user_id(services: Services, email: str) -> str:
    async with services.postgres.session() as session:
        return str(await session.scalar(select(User.id).where(User.email == email)))


# -- publisher actions ----------------------------------------------------------------------


async def test_api_keys_created_and_revoked(tenant: Tenant, audit: Audit) -> None:
    by_api = await tenant.create("/api/v1/api-keys", {"name": "ci", "scopes": ["reporting"]})
    assert (await tenant.call("DELETE", f"/api/v1/api-keys/{by_api['id']}")).status_code == 200
    key_id = await _key_id(tenant)
    for action in ("api_key.created", "api_key.revoked"):
        entry = await audit.find(action, by_api["id"], key_id)
        _by(entry, tenant)
        assert by_api["key"] not in json.dumps(entry.details)
    page = await tenant.session_call(
        "POST", "/settings/api-keys", data={"name": "console", "scopes": ["management"]}
    )
    assert page.status_code == 201
    keys = (await tenant.session_call("GET", "/api/v1/api-keys")).json()
    console_key = next(k["id"] for k in keys if k["name"] == "console")
    revoked = await tenant.session_call("POST", f"/settings/api-keys/{console_key}/revoke")
    assert revoked.status_code == 303
    user = await _user_id(audit.services, tenant.email)
    for action in ("api_key.created", "api_key.revoked"):
        _by(await audit.find(action, console_key, user), tenant, "user")


async def test_apps_created_changed_and_deleted(tenant: Tenant, audit: Audit) -> None:
    app = await tenant.android_app()
    patched = await tenant.call("PATCH", f"/api/v1/apps/{app['id']}", json={"name": "Renamed"})
    assert patched.status_code == 200
    assert (await tenant.call("DELETE", f"/api/v1/apps/{app['id']}")).status_code == 204
    key_id = await _key_id(tenant)
    for action in ("app.created", "app.updated", "app.deleted"):
        _by(await audit.find(action, app["id"], key_id), tenant)
    made = await tenant.session_call(
        "POST",
        "/apps",
        data={"name": "Console app", "platform": "android", "bundle_id": "com.example.console"},
    )
    assert made.status_code == 303, made.text
    console_app = made.headers["location"].split("/")[2].split("?")[0]
    gone = await tenant.session_call("POST", f"/apps/{console_app}/delete")
    assert gone.status_code == 303
    user = await _user_id(audit.services, tenant.email)
    for action in ("app.created", "app.deleted"):
        _by(await audit.find(action, console_app, user), tenant, "user")


async def test_network_credentials_changed(tenant: Tenant, audit: Audit) -> None:
    old, new = "ca-app-pub-111~222", "ca-app-pub-333~444"
    account = await tenant.create(
        "/api/v1/network-accounts",
        {"network": "admob", "name": "audited", "credentials": {"app_id": old}},
    )
    url = f"/api/v1/network-accounts/{account['id']}"
    changed = await tenant.call("PATCH", url, json={"credentials": {"app_id": new}})
    assert changed.status_code == 200
    renamed = await tenant.call("PATCH", url, json={"name": "renamed"})
    assert renamed.status_code == 200
    assert (await tenant.call("DELETE", url)).status_code == 204
    key_id = await _key_id(tenant)
    for action in (
        "network_account.created",
        "network_account.credentials_changed",
        "network_account.updated",
        "network_account.deleted",
    ):
        entry = await audit.find(action, account["id"], key_id)
        _by(entry, tenant)
        row = json.dumps([entry.details, entry.before_digest, entry.after_digest])
        assert old not in row and new not in row  # credentials never land in the log
    credentials = await audit.find("network_account.credentials_changed", account["id"])
    assert credentials.details["changed"] == ["credentials"]  # which field, never its value


async def test_placement_configuration_changed(tenant: Tenant, audit: Audit) -> None:
    app = await tenant.android_app()
    placement = await tenant.create(
        "/api/v1/placements", {"name": "p", "appId": app["id"], "format": "banner"}
    )
    url = f"/api/v1/placements/{placement['id']}"
    config = {"floorCpmMicros": 250_000}
    replaced = await tenant.call("PUT", url, json={"name": "p", "config": config})
    assert replaced.status_code == 200, replaced.text
    assert (await tenant.call("DELETE", url)).status_code == 204
    key_id = await _key_id(tenant)
    for action in ("placement.created", "placement.config_changed", "placement.deleted"):
        _by(await audit.find(action, placement["id"], key_id), tenant)


async def test_billing_changes(
    tenant: Tenant,
    audit: Audit,
    operator: Operator,
    app: FastAPI,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with live_stripe(app, services, monkeypatch) as stripe:
        link = await tenant.session_call("POST", "/api/v1/billing/payment-method")
        assert link.status_code == 200, link.text
        checkout = stripe.sessions[link.json()["url"].rsplit("/", 1)[1]]
        payload, signature = stripe.signed_event("checkout.session.completed", checkout)
        delivered = await tenant.http.post(
            "/api/v1/billing/stripe/webhook",
            content=payload,
            headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
        )
        assert delivered.json()["applied"] is True, delivered.text
    added = await audit.find("billing.payment_method_added", tenant.publisher_id)
    assert (added.actor_type, added.publisher_id) == ("system", uuid.UUID(tenant.publisher_id))
    rows = [{"day": "2026-01-05", "network": "admob", "revenueMicros": 1_500_000}]
    imported = await tenant.call("POST", "/api/v1/billing/network-revenue", json={"rows": rows})
    assert imported.status_code == 200, imported.text
    entry = await audit.find("billing.network_revenue_imported", actor_id=await _key_id(tenant))
    _by(entry, tenant)
    recomputed = await operator.http.post(
        "/api/v1/billing/reconcile",
        json={
            "startDate": "2026-01-05",
            "endDate": "2026-01-06",
            "publisherId": tenant.publisher_id,
        },
        headers={"X-CSRF-Token": operator.csrf},
    )
    assert recomputed.status_code == 200, recomputed.text
    entry = await audit.find("billing.usage_recomputed", actor_id=operator.user_id)
    assert entry.publisher_id == uuid.UUID(tenant.publisher_id)
    assert entry.details["start_date"] == "2026-01-05"


async def test_invitations_and_team_roles(
    tenant: Tenant,
    audit: Audit,
    mailbox: Mailbox,
    services: Services,
    make_client: Callable[[], httpx.AsyncClient],
) -> None:
    owner = await _user_id(services, tenant.email)
    invited = f"invitee-{secrets.token_hex(4)}@example.com"
    withdrawn = f"withdrawn-{secrets.token_hex(4)}@example.com"
    for email in (invited, withdrawn):
        sent = await tenant.session_call(
            "POST", "/settings/invitations", data={"email": email, "role": "member"}
        )
        assert sent.status_code == 303, sent.text
    async with services.postgres.session() as session:
        sent_to = dict((await session.execute(select(Invitation.email, Invitation.id))).all())
    created = {
        email: await audit.find("invitation.created", str(sent_to[email]), owner)
        for email in (invited, withdrawn)
    }
    withdrawn_id = str(sent_to[withdrawn])
    revoked = await tenant.session_call("POST", f"/settings/invitations/{withdrawn_id}/revoke")
    assert revoked.status_code == 303
    _by(await audit.find("invitation.revoked", withdrawn_id, owner), tenant, "user")
    link = mailbox.link_to(invited)
    for entry in created.values():
        _by(entry, tenant, "user")
        assert link.split("/")[-1] not in json.dumps(entry.details)  # the link's token is not kept
    async with make_client() as http:
        joined = await http.post(f"{link}/signup", data={"password": "invited-password-123"})
        assert joined.status_code == 303, joined.text
    member = await _user_id(services, invited)
    accepted = await audit.find("invitation.accepted", actor_id=member)
    assert accepted.publisher_id == uuid.UUID(tenant.publisher_id)
    await audit.find("user.created", member)
    role = await tenant.session_call(
        "POST", f"/settings/team/{member}/role", data={"role": "admin"}
    )
    assert role.status_code == 303
    changed = await audit.find("member.role_changed", member, owner)
    assert (changed.details["from"], changed.details["to"]) == ("member", "admin")
    removed = await tenant.session_call("POST", f"/settings/team/{member}/remove")
    assert removed.status_code == 303
    _by(await audit.find("member.removed", member, owner), tenant, "user")


async def test_password_reset(
    tenant: Tenant,
    audit: Audit,
    mailbox: Mailbox,
    services: Services,
    make_client: Callable[[], httpx.AsyncClient],
) -> None:
    new_password = "a brand new password " + secrets.token_hex(4)
    async with make_client() as http:
        asked = await http.post("/password-reset", data={"email": tenant.email})
        assert asked.status_code == 200
        link = mailbox.link_to(tenant.email)
        reset = await http.post(
            link, data={"password": new_password, "password_confirm": new_password}
        )
        assert reset.status_code == 303, reset.text
    user = await _user_id(services, tenant.email)
    for action in ("auth.password_reset_requested", "auth.password_reset"):
        entry = await audit.find(action, user)
        assert entry.ip_prefix == "127.0.0.0/24"
        assert new_password not in json.dumps(entry.details)
        assert link.split("/")[-1] not in json.dumps(entry.details)


# -- operator actions -------------------------------------------------------------------------


async def _form(operator: Operator, url: str, data: dict[str, str]) -> httpx.Response:
    return await operator.http.post(url, data=data, headers={"X-CSRF-Token": operator.csrf})


@pytest.fixture
async def platform_state(services: Services) -> AsyncIterator[None]:
    """The AI flags, this month's AI budget and the knob, put back as they were."""
    now = dt.datetime.now(dt.UTC)
    async with services.postgres.session() as session:
        standing = await budget.standing(session, services.settings, now)
        flags = [(f.name, f.enabled) for f in await session.scalars(select(AiFlag))]
        knobs = await runtime_settings.values(session)
        auto = await runtime_settings.auto_tune_allowed(session)
        await session.commit()
    yield
    async with services.postgres.session() as session:
        await session.execute(delete(AiFlag))
        for name, enabled in flags:
            session.add(AiFlag(name=name, enabled=enabled, updated_by="tests"))
        await session.execute(
            update(AiBudgetMonth)
            .where(AiBudgetMonth.month == standing.month)
            .values(budget_micros=standing.budget_micros)
        )
        system = Actor.system()
        await runtime_settings.set_value(session, system, KNOB, knobs[KNOB], reason="tests")
        await runtime_settings.set_auto_tune(session, system, auto)
        await session.commit()


async def test_ai_flags_and_budget(operator: Operator, audit: Audit, platform_state: None) -> None:
    flag = await _form(
        operator, "/operator/ai/flags", {"name": "ENABLE_SALES_AI_OPTIMIZATION", "enabled": "on"}
    )
    assert flag.status_code == 303, flag.text
    entry = await audit.find("ai.flag_changed", "ENABLE_SALES_AI_OPTIMIZATION", operator.user_id)
    assert entry.details["changed"] == ["enabled"]
    assert entry.ip_prefix == "127.0.0.0/24"
    money = await _form(operator, "/operator/ai/budget", {"dollars": "123"})
    assert money.status_code == 303, money.text
    await audit.find("ai.budget_changed", actor_id=operator.user_id)


async def test_runtime_tuning(operator: Operator, audit: Audit, platform_state: None) -> None:
    setting = await _form(operator, f"/operator/optimizations/settings/{KNOB}", {"value": "600"})
    assert setting.status_code == 303, setting.text
    entry = await audit.find("tuning.changed", KNOB, operator.user_id)
    assert entry.details["to"] == 600
    auto = await _form(operator, "/operator/optimizations/auto-tune", {"allowed": "on"})
    assert auto.status_code == 303
    await audit.find("tuning.auto_apply_changed", actor_id=operator.user_id)


async def test_optimisation_approvals_and_rejections(
    operator: Operator, audit: Audit, services: Services
) -> None:
    token = secrets.token_hex(4)
    ids = [uuid.uuid4(), uuid.uuid4()]
    async with services.postgres.session() as session:
        for record_id, name in zip(ids, ("approved", "rejected"), strict=True):
            target = f"public.audit_{token}_{name}(col)"
            session.add(
                OptimizationRecord(
                    id=record_id,
                    action="create_index",
                    target=target,
                    apply_sql=f"CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_{token} ON {target}",
                    rollback_sql=f"DROP INDEX CONCURRENTLY IF EXISTS ix_{token}",
                    evidence={"query": "SELECT 1", "calls": 1, "mean_us": 1, "table_rows": 1},
                    expected_effect="an index lookup",
                    status="proposed",
                    proposed_at=dt.datetime.now(dt.UTC),
                )
            )
        await session.commit()
    try:
        approved = await _form(operator, f"/operator/optimizations/{ids[0]}/approve", {})
        rejected = await _form(operator, f"/operator/optimizations/{ids[1]}/reject", {})
        assert approved.status_code == rejected.status_code == 303
        await audit.find("optimization.approved", str(ids[0]), operator.user_id)
        await audit.find("optimization.rejected", str(ids[1]), operator.user_id)
    finally:
        async with services.postgres.session() as session:
            await session.execute(delete(OptimizationRecord).where(OptimizationRecord.id.in_(ids)))
            await session.commit()

"""Every sensitive action in this foundation leaves its audit entry."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from apex_mediation.accounts.audit import changed_fields, digest
from apex_mediation.db.models import AuditLog
from apex_mediation.services import Services
from tests.helpers import Tenant


async def _actions(services: Services, publisher_id: str) -> list[AuditLog]:
    async with services.postgres.session() as session:
        rows = await session.scalars(
            select(AuditLog)
            .where(AuditLog.publisher_id == uuid.UUID(publisher_id))
            .order_by(AuditLog.id)
        )
        return list(rows)


async def test_sensitive_actions_are_audited(tenant: Tenant, services: Services) -> None:
    app = await tenant.android_app()
    await tenant.call("PATCH", f"/api/v1/apps/{app['id']}", json={"testMode": True})
    account = await tenant.create(
        "/api/v1/network-accounts",
        {"network": "admob", "name": "a", "credentials": {"app_id": "ca-app-pub-0000000001~1"}},
    )
    await tenant.call(
        "PATCH",
        f"/api/v1/network-accounts/{account['id']}",
        json={"credentials": {"app_id": "ca-app-pub-0000000002~2"}},
    )
    placement = await tenant.create(
        "/api/v1/placements", {"name": "p", "appId": app["id"], "format": "banner"}
    )
    await tenant.call(
        "PUT", f"/api/v1/placements/{placement['id']}", json={"config": {"floorCpmMicros": 10}}
    )
    key = await tenant.create("/api/v1/api-keys", {"name": "k", "scopes": ["reporting"]})
    await tenant.call("DELETE", f"/api/v1/api-keys/{key['id']}")
    await tenant.call("DELETE", f"/api/v1/apps/{app['id']}")

    rows = await _actions(services, tenant.publisher_id)
    actions = [row.action for row in rows]
    for expected in (
        "publisher.created",
        "api_key.created",
        "app.created",
        "app.updated",
        "network_account.created",
        "network_account.credentials_changed",
        "placement.created",
        "placement.config_changed",
        "api_key.revoked",
        "app.deleted",
    ):
        assert expected in actions, expected
    changed = next(r for r in rows if r.action == "network_account.credentials_changed")
    assert changed.before_digest and changed.after_digest
    assert changed.before_digest != changed.after_digest
    assert "credentials" in changed.details["changed"]
    for row in rows:  # digests only: no credential value reaches the log
        assert "ca-app-pub-0000000002" not in str(row.details)
    config = next(r for r in rows if r.action == "placement.config_changed")
    assert config.actor_type == "api_key"
    assert config.details["changed"] == ["config"]


async def test_ip_is_truncated(tenant: Tenant, services: Services) -> None:
    rows = await _actions(services, tenant.publisher_id)
    for row in rows:
        assert row.ip_prefix is None or row.ip_prefix.endswith(("/24", "/48"))


def test_digest_is_canonical() -> None:
    assert digest({"a": 1, "b": 2}) == digest({"b": 2, "a": 1})
    assert digest(None) is None
    assert changed_fields({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 0}) == ["b", "c"]

"""Account erasure: the owner confirms with the password; everything of the publisher goes —
PostgreSQL rows, sessions, API keys, network credentials, ClickHouse rows — except the
invoices and the billing identity on them, which the receipt lists with the reason and how long
they are kept. Other publishers' data is untouched."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Callable

import httpx
from sqlalchemy import func, select

from apex_mediation.compliance import analytics_sql
from apex_mediation.db.models import (
    ApiKey,
    App,
    AuditLog,
    Base,
    BillingAccount,
    ConsoleSession,
    Invoice,
    InvoiceLine,
    Membership,
    NetworkAccount,
    Placement,
    PrivacyRequest,
    Publisher,
    User,
)
from apex_mediation.services import Services
from tests.helpers import PASSWORD, Tenant
from tests.reporting.data import DAY, auction, event


async def _world(tenant: Tenant, other: Tenant, services: Services) -> uuid.UUID:
    app = await tenant.android_app()
    await tenant.create(
        "/api/v1/placements",
        {"name": "inter", "appId": app["id"], "format": "interstitial", "config": {}},
    )
    await tenant.create(
        "/api/v1/network-accounts",
        {
            "network": "openrtb",
            "name": "main",
            "credentials": {"auth_token": "sk-" + "9" * 20, "auth_header": "X-Key"},
        },
    )
    publisher_id = uuid.UUID(tenant.publisher_id)
    invoice_id = uuid.uuid4()
    async with services.postgres.session() as session:
        session.add(
            Invoice(
                id=invoice_id, publisher_id=publisher_id,
                number=f"APX-TEST-{secrets.token_hex(4)}",
                period_start=dt.date(2026, 10, 1), period_end=dt.date(2026, 11, 1),
                status="paid", revenue_micros=50_000_000_000, fee_micros=1_000_000_000,
                total_cents=100_000, amount_paid_cents=100_000,
            )
        )  # fmt: skip
        await session.flush()
        session.add(
            InvoiceLine(
                invoice_id=invoice_id, position=0, band="growth", lower_micros=0,
                upper_micros=None, rate_ppm=20_000, revenue_micros=50_000_000_000,
                fee_micros=1_000_000_000, amount_cents=100_000,
            )
        )  # fmt: skip
        # A member of the other publisher as well: keeps their account, loses this membership.
        shared = await session.scalar(select(User.id).where(User.email == other.email))
        session.add(Membership(user_id=shared, publisher_id=publisher_id, role="member"))
        await session.commit()
    for owner in (publisher_id, uuid.UUID(other.publisher_id)):
        ids = {"app_id": uuid.uuid4(), "placement_id": uuid.uuid4()}
        await services.analytics.insert(
            "events", [event(owner, at=DAY, device_key="d" * 24, **ids) for _ in range(2)]
        )
        await services.analytics.insert("auctions", [auction(owner, at=DAY, **ids)])
    return publisher_id


async def _clickhouse_rows(services: Services, publisher_id: uuid.UUID) -> dict[str, int]:
    counts = {}
    for table in analytics_sql.TABLES:
        rows = await services.analytics.query(
            analytics_sql.count_publisher(table), {"publisher_id": publisher_id}
        )
        counts[table.name] = int(rows[0]["n"])
    return counts


async def _count(services: Services, model: type[Base], publisher_id: uuid.UUID) -> int:
    table = model.__table__
    async with services.postgres.session() as session:
        found = await session.scalar(
            select(func.count()).select_from(table).where(table.c.publisher_id == publisher_id)
        )
    return int(found or 0)


async def test_erasure_removes_all_but_the_invoices(
    tenant: Tenant,
    other_tenant: Tenant,
    services: Services,
    make_client: Callable[[], httpx.AsyncClient],
) -> None:
    publisher_id = await _world(tenant, other_tenant, services)
    before = await _clickhouse_rows(services, publisher_id)
    assert before["events"] == 2 and before["auctions"] == 1 and before["events_hourly"] >= 1
    other_before = await _clickhouse_rows(services, uuid.UUID(other_tenant.publisher_id))

    erased = await tenant.session_call(
        "POST", "/api/v1/privacy/erasure", json={"password": PASSWORD}
    )
    assert erased.status_code == 200, erased.text
    body = erased.json()
    assert body["kind"] == "account_erasure" and body["status"] == "completed"
    receipt = body["receipt"]
    removed = receipt["removed"]
    assert removed["postgres"]["apps"] == 1 and removed["postgres"]["network_accounts"] == 1
    assert removed["postgres"]["api_keys"] == 1 and removed["postgres"]["users"] == 1
    assert removed["postgres"]["memberships_of_remaining_users"] == 1
    assert removed["clickhouse"]["events"] == 2 and removed["clickhouse"]["auctions"] == 1
    kept = {k["data"]: k for k in receipt["kept"]}
    invoices = kept["invoices and invoice lines"]
    assert invoices["rows"] == {"invoices": 1, "invoice_lines": 1}
    assert invoices["retention"] == "10 years" and "law" in invoices["reason"]
    assert invoices["kept_until"] == "2036-12-31"  # the latest invoice ends in 2026
    assert any("billing identity" in k for k in kept)

    # ClickHouse: nothing of the publisher left in any table; the other publisher untouched.
    assert set((await _clickhouse_rows(services, publisher_id)).values()) == {0}
    assert await _clickhouse_rows(services, uuid.UUID(other_tenant.publisher_id)) == other_before

    for model in (App, Placement, NetworkAccount, ApiKey, Membership):
        assert await _count(services, model, publisher_id) == 0, model.__name__
    assert await _count(services, Invoice, publisher_id) == 1
    async with services.postgres.session() as session:
        assert await session.scalar(select(User).where(User.email == tenant.email)) is None
        sessions = await session.scalar(
            select(func.count()).select_from(ConsoleSession)
            .join(User, User.id == ConsoleSession.user_id)
            .where(User.email == tenant.email)
        )  # fmt: skip
        assert sessions == 0
        publisher = await session.get(Publisher, publisher_id)
        assert publisher is not None and publisher.status == "suspended"
        account = await session.get(BillingAccount, publisher_id)
        assert account is not None and account.billing_email is not None  # on the invoices
        lines = await session.scalar(
            select(func.count()).select_from(InvoiceLine)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(Invoice.publisher_id == publisher_id)
        )  # fmt: skip
        assert lines == 1
        assert await session.scalar(
            select(func.count()).select_from(AuditLog).where(
                AuditLog.publisher_id == publisher_id, AuditLog.action == "privacy.account_erased"
            )
        ) == 1  # fmt: skip
        record = await session.get(PrivacyRequest, uuid.UUID(body["id"]))
        assert record is not None and record.status == "completed"

    # The session is gone, so is the API key; the other member still logs in.
    assert (await tenant.http.get("/api/v1/auth/me")).status_code == 401
    assert (await tenant.call("GET", "/api/v1/apps")).status_code == 401
    async with make_client() as http:
        login = await http.post(
            "/api/v1/auth/login", json={"email": other_tenant.email, "password": PASSWORD}
        )
    assert login.status_code == 200


async def test_erasure_needs_the_owner_and_the_password(tenant: Tenant, services: Services) -> None:
    wrong = await tenant.session_call(
        "POST", "/api/v1/privacy/erasure", json={"password": "not the password at all"}
    )
    assert wrong.status_code == 401 and "password" in wrong.json()["error"]["message"]
    by_key = await tenant.call("POST", "/api/v1/privacy/erasure", json={"password": PASSWORD})
    assert by_key.status_code == 403
    empty = await tenant.session_call("POST", "/api/v1/privacy/erasure", json={})
    assert empty.status_code == 400 and "password" in empty.json()["error"]["message"]
    no_csrf = await tenant.http.post("/api/v1/privacy/erasure", json={"password": PASSWORD})
    assert no_csrf.status_code == 403
    assert await _count(services, Membership, uuid.UUID(tenant.publisher_id)) == 1
    async with services.postgres.session() as session:
        refused = await session.scalar(
            select(func.count()).select_from(PrivacyRequest).where(
                PrivacyRequest.publisher_id == uuid.UUID(tenant.publisher_id)
            )
        )  # fmt: skip
    assert refused == 0


async def test_every_clickhouse_table_of_a_publisher_is_covered(services: Services) -> None:
    """A table added by a later migration must join the erasure and retention lists."""
    rows = await services.analytics.query(
        "SELECT c.table AS t, c.name AS column FROM system.columns AS c "
        "JOIN system.tables AS s ON s.database = c.database AND s.name = c.table "
        "WHERE c.database = {db:String} AND s.engine NOT LIKE '%View' "
        "AND c.name IN ('publisher_id', 'device_key')",
        {"db": services.analytics.database},
    )
    by_publisher = {r["t"] for r in rows if r["column"] == "publisher_id"}
    with_devices = {r["t"] for r in rows if r["column"] == "device_key"}
    assert by_publisher == {table.name for table in analytics_sql.TABLES}
    assert with_devices == set(analytics_sql.DEVICE_TABLES)

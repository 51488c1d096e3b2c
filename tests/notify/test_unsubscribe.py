"""Unsubscribe links: signed tokens, the confirmation page (GET changes nothing), the POST that
turns a kind of email off (audited), RFC 8058 one-click, and refused tokens."""

from __future__ import annotations

import secrets
import string
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from apex_mediation.accounts import notifications, publishers
from apex_mediation.accounts.identity import Actor
from apex_mediation.db.models import AuditLog, NotificationOutbox
from apex_mediation.notify import outbox, unsubscribe
from apex_mediation.notify.unsubscribe import BadToken, make_token, read_token
from apex_mediation.services import Services
from tests.mailbox import LINK

ClientMaker = Callable[[], httpx.AsyncClient]
SECRET = b"unsubscribe-test-secret"
B64 = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


def test_a_token_round_trips_and_any_change_is_refused() -> None:
    user_id = uuid.uuid4()
    token = make_token(SECRET, user_id, "marketing")
    assert read_token(SECRET, token) == (user_id, "marketing")
    body, mac = token.split(".")
    other_kind = make_token(SECRET, user_id, "billing").split(".")[0]
    flipped = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
    # 43 characters carry 258 bits for a 256-bit MAC: flipping the last bit gives the same bytes.
    twin = mac[:-1] + B64[B64.index(mac[-1]) ^ 1]
    for bad, reason in [
        (f"{body}.{flipped}", "signature"),
        (f"{other_kind}.{mac}", "signature"),
        (body, "incomplete"),
        (f"{body}.{mac}+", "characters"),
        (f"{body}.{twin}", "garbled"),
        ("", "incomplete"),
    ]:
        with pytest.raises(BadToken, match=reason):
            read_token(SECRET, bad)
    with pytest.raises(BadToken, match="signature"):
        read_token(b"another platform's secret", token)


async def _user(services: Services, **prefs: bool) -> uuid.UUID:
    async with services.postgres.session() as session:
        created = await publishers.create_publisher(
            session,
            name="Unsubscribe Co",
            owner_email=f"u-{secrets.token_hex(5)}@example.com",
            owner_password="unsubscribe-password",
        )
        me = Actor(kind="user", id=str(created.owner.id), publisher_id=None)
        await notifications.save_preferences(session, me, notifications.Preferences(**prefs))
        await session.commit()
    return created.owner.id


async def _link_in_queued_email(services: Services, user_id: uuid.UUID) -> str:
    """The unsubscribe link as the outbox writes it (queued, read back, rolled back)."""
    async with services.postgres.session() as session:
        queued = await outbox.enqueue_email(
            session,
            services.settings,
            template="product/announcement",
            context={"headline": "h", "summary": "s", "url": "https://apex.example/n"},
            category="product",
            to="someone@example.com",
            user_id=user_id,
        )
        body = await session.scalar(
            select(NotificationOutbox.body_text).where(NotificationOutbox.id == queued)
        )
        await session.rollback()
    [link] = [u for u in LINK.findall(body or "") if unsubscribe.PATH in u]
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


async def _audit(services: Services, user_id: uuid.UUID) -> list[AuditLog]:
    async with services.postgres.session() as session:
        rows = await session.scalars(
            select(AuditLog)
            .where(AuditLog.action == "notifications.updated", AuditLog.object_id == str(user_id))
            .order_by(AuditLog.id)
        )
        return list(rows)


async def _wants(services: Services, user_id: uuid.UUID) -> notifications.Preferences:
    async with services.postgres.session() as session:
        return await notifications.get_preferences(session, user_id)


async def test_the_link_confirms_then_unsubscribes_with_an_audit_row(
    services: Services, make_client: ClientMaker
) -> None:
    user_id = await _user(services, product=True, weekly_report=False)
    before_audit = len(await _audit(services, user_id))
    path = await _link_in_queued_email(services, user_id)
    async with make_client() as http:
        page = await http.get(path)
        assert page.status_code == 200
        assert "Stop “Product tips and updates” emails?" in page.text
        assert f'<form method="post" action="{unsubscribe.PATH}">' in page.text
        assert "'unsafe-inline'" not in page.headers["content-security-policy"]
        assert (await _wants(services, user_id)).product is True  # GET changes nothing

        token = path.split("?t=", 1)[1]
        done = await http.post(unsubscribe.PATH, data={"t": token})
        assert done.status_code == 200, done.text
        assert "You will no longer receive “Product tips and updates” emails." in done.text
        again = await http.post(unsubscribe.PATH, data={"t": token})
        assert again.status_code == 200

    chosen = await _wants(services, user_id)
    assert (chosen.product, chosen.weekly_report, chosen.alerts) == (False, False, True)
    rows = (await _audit(services, user_id))[before_audit:]
    assert len(rows) == 1  # the second POST changed nothing
    assert (rows[0].actor_type, rows[0].actor_id) == ("user", str(user_id))
    assert rows[0].details == {"changed": ["product"], "via": "unsubscribe_link"}


async def test_one_click_unsubscribe_needs_no_session_or_csrf_token(
    services: Services, make_client: ClientMaker
) -> None:
    user_id = await _user(services, marketing=True)
    path = unsubscribe.url(services.settings, user_id, "marketing").split("//", 1)[1]
    path = path[path.index("/") :]
    async with make_client() as http:
        response = await http.post(path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert "“Marketing”" in response.text
    assert (await _wants(services, user_id)).marketing is False


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_tampered_or_missing_token_is_a_400_page(
    services: Services, make_client: ClientMaker, method: str
) -> None:
    user_id = await _user(services, product=True)
    token = make_token(services.settings.secret, user_id, "product")
    tampered = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    async with make_client() as http:
        for bad, problem in [
            (tampered, "signature does not match"),
            ("", "has no token"),
            ("nonsense", "incomplete"),
            ("x" * 300 + "." + "y", "longer than any link"),
        ]:
            response = await http.request(method, unsubscribe.PATH, params={"t": bad})
            assert response.status_code == 400, (bad, response.text)
            assert "This unsubscribe link is not valid" in response.text
            assert problem in response.text.lower()
    assert (await _wants(services, user_id)).product is True


async def test_a_valid_link_for_a_deleted_account_is_not_found(
    services: Services, make_client: ClientMaker
) -> None:
    token = make_token(services.settings.secret, uuid.uuid4(), "alerts")
    async with make_client() as http:
        response = await http.post(unsubscribe.PATH, data={"t": token})
    assert response.status_code == 404
    assert "no longer exists" in response.text

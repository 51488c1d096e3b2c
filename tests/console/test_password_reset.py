"""Password reset by email, end to end through the console's forms and a real SMTP server."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from apex_mediation.accounts import password_reset
from apex_mediation.db.models import AuditLog, PasswordResetToken, User
from apex_mediation.services import Services
from apex_mediation.settings import Environment
from tests.console.conftest import ConsoleUser
from tests.mailbox import Mailbox, mail_to

NEW_PASSWORD = "a brand new password 42"


@pytest.fixture
def mailbox(services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    with mail_to(services.settings, monkeypatch) as box:
        yield box


async def _login(http: httpx.AsyncClient, email: str, password: str) -> int:
    response = await http.post("/login", data={"email": email, "password": password})
    return response.status_code


async def test_reset_by_email_end_to_end(
    console: ConsoleUser,
    make_client: Callable[[], httpx.AsyncClient],
    mailbox: Mailbox,
    services: Services,
) -> None:
    async with make_client() as http:
        form = await http.get("/password-reset")
        assert form.status_code == 200 and '<label for="email">' in form.text
        sent = await http.post("/password-reset", data={"email": console.email.upper()})
        assert sent.status_code == 200
        assert "If an account exists" in sent.text
        link = mailbox.link_to(console.email)
        assert link.startswith("/password-reset/")
        [message] = mailbox.to(console.email)
        assert message["Subject"] == "Reset your Apex password"

        page = await http.get(link)
        assert page.status_code == 200 and 'name="password_confirm"' in page.text
        differ = await http.post(link, data={"password": NEW_PASSWORD, "password_confirm": "x"})
        assert differ.status_code == 400 and "differ" in differ.text
        short = await http.post(link, data={"password": "short", "password_confirm": "short"})
        assert short.status_code == 400 and "at least 12 characters" in short.text
        done = await http.post(
            link, data={"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
        )
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "/password-reset/done"
        assert (await http.get("/password-reset/done")).status_code == 200
        assert (await http.get("/dashboard")).status_code == 200  # logged in by the reset

        again = await http.get(link)
        assert again.status_code == 410 and 'data-reason="used"' in again.text
        reuse = await http.post(
            link, data={"password": NEW_PASSWORD + "!", "password_confirm": NEW_PASSWORD + "!"}
        )
        assert reuse.status_code == 410

    # The session opened before the reset is closed; only the new password works.
    assert (await console.http.get("/dashboard")).status_code == 303
    async with make_client() as fresh:
        assert await _login(fresh, console.email, console.password) == 401
        assert await _login(fresh, console.email, NEW_PASSWORD) == 303

    async with services.postgres.session() as session:
        user_id = await session.scalar(select(User.id).where(User.email == console.email))
        actions = list(
            await session.scalars(
                select(AuditLog.action)
                .where(AuditLog.object_id == str(user_id), AuditLog.action.like("auth.password%"))
                .order_by(AuditLog.id)
            )
        )
    assert actions == ["auth.password_reset_requested", "auth.password_reset"]


async def test_unknown_addresses_get_the_same_answer_and_no_email(
    console: ConsoleUser, make_client: Callable[[], httpx.AsyncClient], mailbox: Mailbox
) -> None:
    async with make_client() as http:
        known = await http.post("/password-reset", data={"email": console.email})
        unknown_email = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
        unknown = await http.post("/password-reset", data={"email": unknown_email})
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace(console.email, "X") == unknown.text.replace(unknown_email, "X")
    assert mailbox.to(unknown_email) == []
    assert len(mailbox.to(console.email)) == 1


async def test_requests_per_address_are_throttled(
    console: ConsoleUser,
    make_client: Callable[[], httpx.AsyncClient],
    mailbox: Mailbox,
    app: FastAPI,
) -> None:
    async with make_client() as http:
        for _ in range(password_reset_limit() + 2):
            response = await http.post("/password-reset", data={"email": console.email})
            assert response.status_code == 200 and "If an account exists" in response.text
    assert len(mailbox.to(console.email)) == password_reset_limit()
    # Whoever used up those tries did not use up the owner's, from another address.
    owner = httpx.ASGITransport(app=app, client=("203.0.113.9", 40_000))
    async with httpx.AsyncClient(transport=owner, base_url="http://testserver") as http:
        response = await http.post("/password-reset", data={"email": console.email})
        assert response.status_code == 200
    assert len(mailbox.to(console.email)) == password_reset_limit() + 1


def password_reset_limit() -> int:
    from apex_mediation.console.pages.password_reset import REQUESTS_PER_HOUR

    return REQUESTS_PER_HOUR


async def test_expired_and_unknown_links_say_so(
    console: ConsoleUser, make_client: Callable[[], httpx.AsyncClient], services: Services
) -> None:
    async with services.postgres.session() as session:
        issued = await password_reset.request_reset(session, console.email)
        assert issued is not None
        await session.execute(
            update(PasswordResetToken)
            .where(PasswordResetToken.user_id == issued.user_id)
            .values(expires_at=PasswordResetToken.created_at - password_reset.RESET_TTL)
        )
        await session.commit()
    async with make_client() as http:
        expired = await http.get(f"/password-reset/{issued.token}")
        assert expired.status_code == 410
        assert "This link has expired" in expired.text and 'href="/password-reset"' in expired.text
        post = await http.post(
            f"/password-reset/{issued.token}",
            data={"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
        )
        assert post.status_code == 410
        unknown = await http.get("/password-reset/not-a-real-token")
        assert unknown.status_code == 404 and "This link is not valid" in unknown.text
        long = await http.get("/password-reset/" + "x" * 500)
        assert long.status_code == 404
        assert await _login(http, console.email, console.password) == 303  # unchanged


async def test_production_without_smtp_answers_the_same_and_logs_an_error(
    console: ConsoleUser,
    make_client: Callable[[], httpx.AsyncClient],
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(services.settings, "env", Environment.PRODUCTION)
    monkeypatch.setattr(services.settings, "smtp_url", None)
    caplog.set_level(logging.WARNING, logger="apex_mediation.notify.mail")
    async with make_client() as http:
        response = await http.post("/password-reset", data={"email": console.email})
    assert response.status_code == 200 and "If an account exists" in response.text
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and "APEX_SMTP_URL is not set" in errors[0].getMessage()
    assert "/password-reset/" not in caplog.text  # the link never lands in a production log


async def test_a_bad_address_is_a_form_error(make_client: Callable[[], httpx.AsyncClient]) -> None:
    async with make_client() as http:
        response = await http.post("/password-reset", data={"email": "nope"})
    assert response.status_code == 400 and "not an address" in response.text

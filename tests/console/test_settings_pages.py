"""Settings through the console's forms: the team and its roles, invitations (emailed through a
real SMTP server), API keys and notification preferences."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from sqlalchemy import select, update

from apex_mediation.db.models import AuditLog, Invitation, User
from apex_mediation.services import Services
from tests.console.conftest import CSRF, ConsoleUser, sign_up
from tests.mailbox import Mailbox, mail_to

TEAM = "/settings/team"
PASSWORD = "invited-password-123"


@pytest.fixture
def mailbox(services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    with mail_to(services.settings, monkeypatch) as box:
        yield box


@pytest.fixture
async def other(make_client: Callable[[], httpx.AsyncClient]) -> AsyncIterator[ConsoleUser]:
    """Someone with an account (and a publisher) of their own."""
    async with make_client() as http:
        yield await sign_up(http, "Other Studio")


def new_email() -> str:
    return f"invitee-{secrets.token_hex(4)}@example.com"


async def user_id(services: Services, email: str) -> uuid.UUID:
    async with services.postgres.session() as session:
        found = await session.scalar(select(User.id).where(User.email == email))
    assert found is not None
    return found


async def invite(owner: ConsoleUser, email: str, role: str = "member") -> httpx.Response:
    return await owner.post("/settings/invitations", {"email": email, "role": role}, TEAM)


async def join_as_new_user(
    owner: ConsoleUser,
    mailbox: Mailbox,
    make_client: Callable[[], httpx.AsyncClient],
    role: str = "member",
) -> ConsoleUser:
    email = new_email()
    assert (await invite(owner, email, role)).status_code == 303
    link = mailbox.link_to(email)
    http = make_client()
    page = await http.get(link)
    assert page.status_code == 200 and "Create account and join" in page.text
    joined = await http.post(f"{link}/signup", data={"password": PASSWORD})
    assert joined.status_code == 303, joined.text
    return ConsoleUser(http, email, PASSWORD)


async def audit_actions(services: Services, publisher_email: str) -> list[str]:
    async with services.postgres.session() as session:
        owner = await session.scalar(select(User.id).where(User.email == publisher_email))
        publisher = await session.scalar(
            select(AuditLog.publisher_id).where(
                AuditLog.action == "publisher.created", AuditLog.actor_id == str(owner)
            )
        )
        rows = await session.scalars(
            select(AuditLog.action).where(AuditLog.publisher_id == publisher).order_by(AuditLog.id)
        )
        return list(rows)


async def test_settings_shows_the_team(console: ConsoleUser) -> None:
    home = await console.http.get("/settings")
    assert home.status_code == 303 and home.headers["location"] == TEAM
    page = await console.http.get(TEAM)
    assert page.status_code == 200
    assert console.email in page.text and "Owner" in page.text
    assert 'action="/settings/invitations"' in page.text
    assert 'aria-current="true">Team' in page.text


async def test_invitation_for_a_new_user(
    console: ConsoleUser,
    make_client: Callable[[], httpx.AsyncClient],
    mailbox: Mailbox,
    services: Services,
) -> None:
    email = new_email()
    response = await invite(console, email, "admin")
    assert response.status_code == 303 and response.headers["location"].endswith("done=invited")
    [message] = mailbox.to(email)
    assert message["Subject"] == "Join Console Games on Apex Mediation"
    assert console.email in message.get_content() and "as admin" in message.get_content()
    listed = await console.http.get(response.headers["location"])
    assert f'data-invitation="{email}"' in listed.text and "Invitation sent." in listed.text

    link = mailbox.link_to(email)
    async with make_client() as http:
        page = await http.get(link)
        assert page.status_code == 200 and email in page.text
        short = await http.post(f"{link}/signup", data={"password": "short"})
        assert short.status_code == 400 and "at least 12" in short.text
        joined = await http.post(f"{link}/signup", data={"password": PASSWORD})
        assert joined.status_code == 303 and joined.headers["location"] == "/dashboard"
        team = await http.get(TEAM)
        assert team.status_code == 200 and "Console Games" in team.text
        assert re.search(rf'data-member="{re.escape(email)}".*?Admin', team.text, re.S)
        used = await http.get(link)
        assert used.status_code == 410 and "already accepted" in used.text

    owner_view = await console.http.get(TEAM)
    assert f'data-member="{email}"' in owner_view.text
    assert f'data-invitation="{email}"' not in owner_view.text
    async with make_client() as http:  # the new account logs in with its password
        login = await http.post("/login", data={"email": email, "password": PASSWORD})
        assert login.status_code == 303
    actions = await audit_actions(services, console.email)
    assert "invitation.created" in actions and "invitation.accepted" in actions


async def test_invitation_for_an_existing_user(
    console: ConsoleUser,
    other: ConsoleUser,
    make_client: Callable[[], httpx.AsyncClient],
    mailbox: Mailbox,
) -> None:
    assert (await invite(console, other.email, "read_only")).status_code == 303
    link = mailbox.link_to(other.email)
    async with make_client() as anonymous:
        page = await anonymous.get(link)
        assert "Log in to accept" in page.text and f"/login?next={link}" in page.text
        refused = await anonymous.post(f"{link}/signup", data={"password": PASSWORD})
        assert refused.status_code == 400 and "log in to accept" in refused.text
    # Someone else logged in cannot take it.
    wrong = await console.http.get(link)
    assert "This invitation is for" in wrong.text
    taken = await console.post(f"{link}/accept", {}, TEAM)
    assert taken.status_code == 403

    page = await other.http.get(link)
    assert page.status_code == 200 and "Join Console Games" in page.text
    accepted = await other.post(f"{link}/accept", {}, link)
    assert accepted.status_code == 303, accepted.text
    assert "apex_publisher" in accepted.headers.get("set-cookie", "")
    team = await other.http.get(TEAM)
    assert re.search(rf'data-member="{re.escape(other.email)}".*?Read-only', team.text, re.S)
    assert 'action="/settings/invitations"' not in team.text  # read-only: no invite form
    again = await other.http.get(link)
    assert again.status_code == 410


async def test_a_member_cannot_invite_or_change_roles(
    console: ConsoleUser,
    make_client: Callable[[], httpx.AsyncClient],
    mailbox: Mailbox,
    services: Services,
) -> None:
    member = await join_as_new_user(console, mailbox, make_client, "member")
    try:
        page = await member.http.get(TEAM)
        assert page.status_code == 200
        assert 'action="/settings/invitations"' not in page.text and "/role" not in page.text
        assert (await invite(member, new_email())).status_code == 403
        owner_id = await user_id(services, console.email)
        demote = await member.post(f"{TEAM}/{owner_id}/role", {"role": "member"}, TEAM)
        assert demote.status_code == 403
        remove = await member.post(f"{TEAM}/{owner_id}/remove", {}, TEAM)
        assert remove.status_code == 403
        promote = await member.post(
            f"{TEAM}/{await user_id(services, member.email)}/role", {"role": "admin"}, TEAM
        )
        assert promote.status_code == 403
    finally:
        await member.http.aclose()


async def test_admins_stay_below_owners(
    console: ConsoleUser,
    make_client: Callable[[], httpx.AsyncClient],
    mailbox: Mailbox,
    services: Services,
) -> None:
    admin = await join_as_new_user(console, mailbox, make_client, "admin")
    try:
        owner_id = await user_id(services, console.email)
        page = await admin.http.get(TEAM)
        assert "Only an owner can change an owner" in page.text
        assert '<option value="owner"' not in page.text
        touch = await admin.post(f"{TEAM}/{owner_id}/role", {"role": "member"}, TEAM)
        assert touch.status_code == 403
        grant = await invite(admin, new_email(), "owner")
        assert grant.status_code == 403
        ok = await invite(admin, new_email(), "member")
        assert ok.status_code == 303
    finally:
        await admin.http.aclose()


async def test_the_last_owner_stays(
    console: ConsoleUser,
    make_client: Callable[[], httpx.AsyncClient],
    mailbox: Mailbox,
    services: Services,
) -> None:
    me = await user_id(services, console.email)
    demote = await console.post(f"{TEAM}/{me}/role", {"role": "admin"}, TEAM)
    assert demote.status_code == 409 and "at least one owner" in demote.text
    leave = await console.post(f"{TEAM}/{me}/remove", {}, TEAM)
    assert leave.status_code == 409

    second = await join_as_new_user(console, mailbox, make_client, "member")
    try:
        second_id = await user_id(services, second.email)
        promoted = await console.post(f"{TEAM}/{second_id}/role", {"role": "owner"}, TEAM)
        assert promoted.status_code == 303 and promoted.headers["location"].endswith("done=role")
        # A change of role ends the member's sessions: they log in again under the new one.
        assert (await second.http.get(TEAM)).headers.get("location", "").startswith("/login")
        await second.log_in()
        stepped_down = await console.post(f"{TEAM}/{me}/role", {"role": "admin"}, TEAM)
        assert stepped_down.status_code == 303
        last = await second.post(f"{TEAM}/{second_id}/role", {"role": "member"}, TEAM)
        assert last.status_code == 409
        removed = await second.post(f"{TEAM}/{me}/remove", {}, TEAM)
        assert removed.status_code == 303
        assert console.email not in (await second.http.get(TEAM)).text
    finally:
        await second.http.aclose()
    actions = await audit_actions(services, console.email)
    assert actions.count("member.role_changed") == 2 and "member.removed" in actions


async def test_invitations_can_be_revoked_and_expire(
    console: ConsoleUser,
    make_client: Callable[[], httpx.AsyncClient],
    mailbox: Mailbox,
    services: Services,
) -> None:
    revoked_email, expired_email = new_email(), new_email()
    await invite(console, revoked_email)
    await invite(console, expired_email)
    async with services.postgres.session() as session:
        invitation_id = await session.scalar(
            select(Invitation.id).where(Invitation.email == revoked_email)
        )
        await session.execute(
            update(Invitation)
            .where(Invitation.email == expired_email)
            .values(expires_at=Invitation.created_at)
        )
        await session.commit()
    page = await console.http.get(TEAM)
    assert 'badge bad">expired' in page.text
    revoke = await console.post(f"/settings/invitations/{invitation_id}/revoke", {}, TEAM)
    assert revoke.status_code == 303
    assert f'data-invitation="{revoked_email}"' not in (await console.http.get(TEAM)).text
    async with make_client() as http:
        withdrawn = await http.get(mailbox.link_to(revoked_email))
        assert withdrawn.status_code == 410 and "withdrawn" in withdrawn.text
        late = await http.get(mailbox.link_to(expired_email))
        assert late.status_code == 410 and "expired" in late.text
        signup = await http.post(
            f"{mailbox.link_to(expired_email)}/signup", data={"password": PASSWORD}
        )
        assert signup.status_code == 410
        unknown = await http.get("/invitations/nope")
        assert unknown.status_code == 404 and "not valid" in unknown.text
    assert "invitation.revoked" in await audit_actions(services, console.email)


async def test_reinviting_replaces_the_pending_link(console: ConsoleUser, mailbox: Mailbox) -> None:
    email = new_email()
    await invite(console, email)
    first = mailbox.link_to(email)
    await invite(console, email, "admin")
    second = mailbox.link_to(email)
    assert first != second
    assert (await console.http.get(first)).status_code == 410
    assert (await console.http.get(second)).status_code == 200
    member = await invite(console, console.email)
    assert member.status_code == 409 and "already a member" in member.text
    bad = await invite(console, "not-an-email")
    assert bad.status_code == 400 and 'role="alert"' in bad.text
    assert 'value="not-an-email"' in bad.text


async def test_ids_of_another_publisher_are_not_found(
    console: ConsoleUser, other: ConsoleUser, mailbox: Mailbox, services: Services
) -> None:
    other_owner = await user_id(services, other.email)
    for url in (f"{TEAM}/{other_owner}/role", f"{TEAM}/{other_owner}/remove"):
        response = await console.post(url, {"role": "member"}, TEAM)
        assert response.status_code == 404
    await invite(other, new_email())
    async with services.postgres.session() as session:
        foreign = await session.scalar(
            select(Invitation.id).where(Invitation.invited_by == other_owner)
        )
    revoke = await console.post(f"/settings/invitations/{foreign}/revoke", {}, TEAM)
    assert revoke.status_code == 404
    created = await other.post(
        "/settings/api-keys", {"name": "theirs", "scopes": "reporting"}, "/settings/api-keys"
    )
    key_id = re.search(r"/settings/api-keys/([0-9a-f-]{36})/revoke", created.text)
    assert key_id
    steal = await console.post(f"/settings/api-keys/{key_id.group(1)}/revoke", {}, TEAM)
    assert steal.status_code == 404
    garbage = await console.post(f"{TEAM}/not-a-uuid/remove", {}, TEAM)
    assert garbage.status_code == 404


async def test_api_keys_are_shown_once_and_revocable(
    console: ConsoleUser,
    make_client: Callable[[], httpx.AsyncClient],
    mailbox: Mailbox,
) -> None:
    page = await console.http.get("/settings/api-keys")
    assert page.status_code == 200 and '<label for="key-name">' in page.text
    created = await console.http.post(
        "/settings/api-keys",
        data={
            "name": "BI export",
            "scopes": ["management", "reporting"],
            "csrf_token": CSRF.search(page.text).group(1),  # type: ignore[union-attr]
        },
    )
    assert created.status_code == 201
    secret = re.search(r'<code id="new-key">([^<]+)</code>', created.text)
    assert secret and 'data-copy="new-key"' in created.text and 'class="secret' in created.text
    key = secret.group(1)
    api = await console.http.get("/api/v1/apps", headers={"Authorization": f"Bearer {key}"})
    assert api.status_code == 200
    listed = await console.http.get("/settings/api-keys")
    assert key not in listed.text and key[:12] in listed.text and "data-confirm=" in listed.text

    sdk = await console.post(
        "/settings/api-keys", {"name": "sdk", "scopes": "sdk"}, "/settings/api-keys"
    )
    assert sdk.status_code == 400 and "management, reporting" in sdk.text
    nameless = await console.post(
        "/settings/api-keys", {"name": " ", "scopes": "reporting"}, "/settings/api-keys"
    )
    assert nameless.status_code == 400

    key_id = re.search(r"/settings/api-keys/([0-9a-f-]{36})/revoke", listed.text)
    assert key_id
    revoked = await console.post(
        f"/settings/api-keys/{key_id.group(1)}/revoke", {}, "/settings/api-keys"
    )
    assert revoked.status_code == 303
    api = await console.http.get("/api/v1/apps", headers={"Authorization": f"Bearer {key}"})
    assert api.status_code == 401
    assert 'badge bad">revoked' in (await console.http.get("/settings/api-keys")).text

    member = await join_as_new_user(console, mailbox, make_client, "member")
    try:
        view = await member.http.get("/settings/api-keys")
        assert view.status_code == 200 and 'action="/settings/api-keys"' not in view.text
        refused = await member.post(
            "/settings/api-keys", {"name": "x", "scopes": "reporting"}, "/settings/api-keys"
        )
        assert refused.status_code == 403
    finally:
        await member.http.aclose()


async def test_notification_preferences(console: ConsoleUser, services: Services) -> None:
    page = await console.http.get("/settings/notifications")
    assert page.status_code == 200
    assert re.search(r'id="notify-weekly_report"[^>]*checked', page.text)
    assert re.search(r'id="notify-product"[^>]*checked', page.text)
    assert not re.search(r'id="notify-marketing"[^>]*checked', page.text)  # opt-in
    assert '<label for="notify-alerts">' in page.text
    assert '<label for="notify-marketing">Marketing' in page.text
    saved = await console.post(
        "/settings/notifications", {"alerts": "on", "marketing": "on"}, "/settings/notifications"
    )
    assert saved.status_code == 303
    page = await console.http.get(saved.headers["location"])
    assert "Preferences saved." in page.text
    assert re.search(r'id="notify-alerts"[^>]*checked', page.text)
    assert re.search(r'id="notify-marketing"[^>]*checked', page.text)
    assert not re.search(r'id="notify-weekly_report"[^>]*checked', page.text)
    again = await console.post(
        "/settings/notifications", {"alerts": "on", "marketing": "on"}, "/settings/notifications"
    )
    assert again.status_code == 303
    async with services.postgres.session() as session:
        me = await session.scalar(select(User.id).where(User.email == console.email))
        rows = list(
            await session.scalars(
                select(AuditLog).where(
                    AuditLog.action == "notifications.updated", AuditLog.object_id == str(me)
                )
            )
        )
    assert len(rows) == 1  # saving unchanged preferences records nothing
    assert rows[0].details["changed"] == ["billing", "marketing", "product", "weekly_report"]

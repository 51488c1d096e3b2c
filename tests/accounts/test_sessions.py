"""Session expiry and rotation: a new session id after every change of privilege, the old one
refused; a password change signs out every other session."""

from __future__ import annotations

import datetime as dt
import re
import uuid

from sqlalchemy import func, select, update

from apex_mediation.accounts import team
from apex_mediation.accounts.identity import Actor
from apex_mediation.accounts.invitations import accept_with_signup, invite
from apex_mediation.db.models import ConsoleSession
from apex_mediation.services import Services
from tests.accounts.conftest import (
    ClientFactory,
    Person,
    api_login,
    audit_actions,
    fresh_code,
    logged_in,
)

ME = "/api/v1/auth/me"


async def _sessions_of(services: Services, user_id: uuid.UUID) -> int:
    async with services.postgres.session() as session:
        count = await session.scalar(select(func.count()).where(ConsoleSession.user_id == user_id))
    return int(count or 0)


async def test_an_expired_session_is_refused(
    person: Person, services: Services, own_ip_client: ClientFactory
) -> None:
    http = own_ip_client()
    await logged_in(http, person)
    assert (await http.get(ME)).status_code == 200
    async with services.postgres.session() as session:
        await session.execute(
            update(ConsoleSession)
            .where(ConsoleSession.user_id == person.user_id)
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        await session.commit()
    assert (await http.get(ME)).status_code == 401
    # The cookie's own lifetime follows APEX_SESSION_TTL_HOURS.
    fresh = own_ip_client()
    response = await api_login(fresh, person.email, person.password)
    hours = services.settings.session_ttl_hours
    async with services.postgres.session() as session:
        latest = await session.scalar(
            select(func.max(ConsoleSession.expires_at)).where(
                ConsoleSession.user_id == person.user_id
            )
        )
    assert latest is not None and response.status_code == 200
    left = latest - dt.datetime.now(dt.UTC)
    assert dt.timedelta(hours=hours) - dt.timedelta(minutes=1) < left <= dt.timedelta(hours=hours)


async def test_a_password_change_rotates_this_session_and_ends_the_others(
    person: Person, services: Services, own_ip_client: ClientFactory
) -> None:
    here, elsewhere = own_ip_client(), own_ip_client()
    csrf = await logged_in(here, person)
    await logged_in(elsewhere, person)
    before = here.cookies.get("apex_session")
    wrong = await here.post(
        "/api/v1/account/password",
        headers={"X-CSRF-Token": csrf},
        json={"currentPassword": "not my password at all", "newPassword": "amber lanterns sway"},
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"]["details"]["fields"][0]["field"] == "currentPassword"
    changed = await here.post(
        "/api/v1/account/password",
        headers={"X-CSRF-Token": csrf},
        json={"currentPassword": person.password, "newPassword": "amber lanterns sway"},
    )
    assert changed.status_code == 200, changed.text
    after = here.cookies.get("apex_session")
    assert after and after != before
    assert changed.json()["csrfToken"] != csrf
    assert (await here.get(ME)).status_code == 200
    assert (await elsewhere.get(ME)).status_code == 401
    here.cookies.set("apex_session", before or "")
    assert (await here.get(ME)).status_code == 401  # the old id stops working
    assert await _sessions_of(services, person.user_id) == 1

    assert (await api_login(own_ip_client(), person.email, person.password)).status_code == 401
    fresh = await api_login(own_ip_client(), person.email, "amber lanterns sway")
    assert fresh.status_code == 200
    actions = await audit_actions(services, person.user_id)
    assert "auth.password_changed" in actions and "auth.reauth_failed" in actions


async def test_the_console_password_change_signs_out_elsewhere(
    person: Person, own_ip_client: ClientFactory
) -> None:
    here, elsewhere = own_ip_client(), own_ip_client()
    for http in (here, elsewhere):
        login = await http.post("/login", data={"email": person.email, "password": person.password})
        assert login.status_code == 303
    page = await here.get("/settings/security")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    form = {
        "csrf_token": csrf.group(1),
        "current_password": person.password,
        "new_password": "copper kites over rooftops",
        "new_password_confirm": "copper kites over rooftops",
    }
    differ = await here.post("/settings/security/password", data={**form, "new_password": "x" * 14})
    assert differ.status_code == 400 and "newPassword: the two new passwords differ" in differ.text
    common = await here.post(
        "/settings/security/password",
        data={**form, "new_password": "baseball123456", "new_password_confirm": "baseball123456"},
    )
    assert common.status_code == 400 and "too common" in common.text
    changed = await here.post("/settings/security/password", data=form)
    assert changed.status_code == 303
    assert changed.headers["location"] == "/settings/security?done=password"
    assert "signed out" in (await here.get("/settings/security?done=password")).text
    assert (await elsewhere.get("/settings/security")).headers["location"].startswith("/login")


async def test_enabling_two_factor_rotates_the_session(
    person: Person, services: Services, own_ip_client: ClientFactory
) -> None:
    http = own_ip_client()
    csrf = await logged_in(http, person)
    before = http.cookies.get("apex_session")
    enrolled = await http.post(
        "/api/v1/account/two-factor/enrolment", headers={"X-CSRF-Token": csrf}
    )
    code = await fresh_code(services, person.user_id, enrolled.json()["secret"])
    confirmed = await http.post(
        "/api/v1/account/two-factor/confirm", headers={"X-CSRF-Token": csrf}, json={"code": code}
    )
    assert confirmed.status_code == 200
    assert http.cookies.get("apex_session") != before
    assert (await http.get(ME)).json()["csrfToken"] == confirmed.json()["csrfToken"]
    http.cookies.set("apex_session", before or "")
    assert (await http.get(ME)).status_code == 401


async def test_a_role_change_ends_the_members_sessions(
    person: Person, services: Services, own_ip_client: ClientFactory
) -> None:
    owner = Actor(
        kind="user", id=str(person.user_id), publisher_id=person.publisher_id, role="owner"
    )
    async with services.postgres.session() as session:
        issued = await invite(session, owner, email=f"m-{person.email}", role="member")
        member, _ = await accept_with_signup(session, issued.token, "granite owls at dusk")
        await session.commit()
    http = own_ip_client()
    login = await api_login(http, member.email, "granite owls at dusk")
    assert login.status_code == 200
    assert (await http.get(ME)).status_code == 200
    async with services.postgres.session() as session:
        await team.change_role(session, owner, member.id, "admin")
        await session.commit()
    assert (await http.get(ME)).status_code == 401
    assert await _sessions_of(services, member.id) == 0
    again = await api_login(http, member.email, "granite owls at dusk")
    assert again.json()["publishers"][0]["role"] == "admin"

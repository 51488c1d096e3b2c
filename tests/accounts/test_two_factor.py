"""TOTP two-factor authentication and recovery codes, through the API and the console."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
from sqlalchemy import select

from apex_mediation.accounts import recovery_codes, throttle, two_factor, users
from apex_mediation.db.models import AuditLog, RecoveryCode, UserTwoFactor
from apex_mediation.services import Services
from tests.accounts.conftest import (
    ClientFactory,
    Person,
    api_login,
    audit_actions,
    fresh_code,
    logged_in,
)

ACCOUNT = "/api/v1/account"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """An API client logged in as `person`, keeping its CSRF token current across rotations."""

    def __init__(self, http: httpx.AsyncClient, csrf: str) -> None:
        self.http = http
        self.csrf = csrf

    async def post(self, url: str, body: dict[str, Any] | None = None) -> httpx.Response:
        response = await self.http.post(url, json=body or {}, headers={"X-CSRF-Token": self.csrf})
        if response.status_code == 200 and "csrfToken" in response.json():
            self.csrf = response.json()["csrfToken"]
        return response


async def _browser(person: Person, own_ip_client: ClientFactory) -> Browser:
    http = own_ip_client()
    return Browser(http, await logged_in(http, person))


async def _enable(services: Services, person: Person, browser: Browser) -> tuple[str, list[str]]:
    """Turn two-factor on; the secret and the recovery codes."""
    enrolled = await browser.post(f"{ACCOUNT}/two-factor/enrolment")
    assert enrolled.status_code == 201, enrolled.text
    secret = enrolled.json()["secret"]
    code = await fresh_code(services, person.user_id, secret)
    confirmed = await browser.post(f"{ACCOUNT}/two-factor/confirm", {"code": code})
    assert confirmed.status_code == 200, confirmed.text
    return secret, confirmed.json()["recoveryCodes"]


async def test_enrol_confirm_then_log_in_with_a_code(
    person: Person, services: Services, own_ip_client: ClientFactory
) -> None:
    browser = await _browser(person, own_ip_client)
    enrolled = await browser.post(f"{ACCOUNT}/two-factor/enrolment")
    assert enrolled.status_code == 201
    uri = urlparse(enrolled.json()["otpauthUri"])
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert parse_qs(uri.query)["secret"] == [enrolled.json()["secret"]]
    assert parse_qs(uri.query)["issuer"] == ["Apex Mediation"]
    pending = (await browser.http.get(f"{ACCOUNT}/security")).json()
    assert pending == {"twoFactorEnabled": False, "twoFactorPending": True, "recoveryCodesLeft": 0}

    # Not on until a code confirms it: logging in still needs only the password.
    assert (await api_login(own_ip_client(), person.email, person.password)).status_code == 200
    wrong = await browser.post(f"{ACCOUNT}/two-factor/confirm", {"code": "000000"})
    assert wrong.status_code == 400
    assert wrong.json()["error"]["details"]["fields"][0]["field"] == "code"

    secret = enrolled.json()["secret"]
    code = await fresh_code(services, person.user_id, secret)
    confirmed = await browser.post(f"{ACCOUNT}/two-factor/confirm", {"code": code})
    assert confirmed.status_code == 200
    codes = confirmed.json()["recoveryCodes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    status = (await browser.http.get(f"{ACCOUNT}/security")).json()
    assert status == {"twoFactorEnabled": True, "twoFactorPending": False, "recoveryCodesLeft": 10}

    # At rest: the secret encrypted, the codes salted and hashed.
    async with services.postgres.session() as session:
        row = await session.get(UserTwoFactor, person.user_id)
        stored = list(
            await session.scalars(
                select(RecoveryCode.code_hash).where(RecoveryCode.user_id == person.user_id)
            )
        )
    assert row is not None and secret.encode() not in row.secret_ciphertext
    assert not any(c.replace("-", "") in h for c in codes for h in stored)
    assert len({h.split("$")[0] for h in stored}) == 10  # a salt of its own each

    http = own_ip_client()
    first = await api_login(http, person.email, person.password)
    assert first.status_code == 202
    assert first.json()["twoFactorRequired"] is True
    assert "apex_session" not in http.cookies
    token = first.json()["challengeToken"]
    # The code that confirmed the set-up was spent: it cannot log in again.
    replay = await http.post(
        "/api/v1/auth/login/second-step", json={"challengeToken": token, "code": code}
    )
    assert replay.status_code == 400
    done = await http.post(
        "/api/v1/auth/login/second-step",
        json={"challengeToken": token, "code": await fresh_code(services, person.user_id, secret)},
    )
    assert done.status_code == 200, done.text
    assert done.json()["email"] == person.email
    assert (await http.get("/api/v1/auth/me")).status_code == 200
    actions = await audit_actions(services, person.user_id)
    assert "auth.2fa_enabled" in actions and actions[-1] == "auth.login"


async def test_a_recovery_code_logs_in_once(
    person: Person, services: Services, own_ip_client: ClientFactory
) -> None:
    browser = await _browser(person, own_ip_client)
    _, codes = await _enable(services, person, browser)
    http = own_ip_client()
    token = (await api_login(http, person.email, person.password)).json()["challengeToken"]
    typed = codes[0].upper().replace("-", " ")  # case and separators do not matter
    used = await http.post(
        "/api/v1/auth/login/second-step", json={"challengeToken": token, "recoveryCode": typed}
    )
    assert used.status_code == 200, used.text
    again = own_ip_client()
    token = (await api_login(again, person.email, person.password)).json()["challengeToken"]
    reused = await again.post(
        "/api/v1/auth/login/second-step", json={"challengeToken": token, "recoveryCode": codes[0]}
    )
    assert reused.status_code == 400
    assert reused.json()["error"]["details"]["fields"][0]["field"] == "recoveryCode"
    async with services.postgres.session() as session:
        assert await recovery_codes.remaining(session, person.user_id) == 9
    assert "auth.recovery_code_used" in await audit_actions(services, person.user_id)


async def test_the_second_step_has_its_own_attempt_limit_and_feeds_the_lock(
    person: Person, services: Services, own_ip_client: ClientFactory
) -> None:
    browser = await _browser(person, own_ip_client)
    secret, _ = await _enable(services, person, browser)
    http = own_ip_client()
    token = (await api_login(http, person.email, person.password)).json()["challengeToken"]
    step = "/api/v1/auth/login/second-step"
    for _ in range(users.CHALLENGE_ATTEMPTS):
        wrong = await http.post(step, json={"challengeToken": token, "code": "123456"})
        assert wrong.status_code == 400
    right = await fresh_code(services, person.user_id, secret)
    spent = await http.post(step, json={"challengeToken": token, "code": right})
    assert spent.status_code == 401
    assert "enter your email and password again" in spent.json()["error"]["message"]

    # Wrong codes count towards the account's lock like wrong passwords.
    token = (await api_login(http, person.email, person.password)).json()["challengeToken"]
    remaining = throttle.MAX_FAILURES - users.CHALLENGE_ATTEMPTS
    answers = [
        await http.post(step, json={"challengeToken": token, "code": "654321"})
        for _ in range(remaining)
    ]
    assert [a.status_code for a in answers] == [400] * (remaining - 1) + [429]
    assert (await api_login(http, person.email, person.password)).status_code == 429
    assert "auth.account_locked" in await audit_actions(services, person.user_id)


async def test_disabling_needs_the_password_and_a_code(
    person: Person, services: Services, own_ip_client: ClientFactory
) -> None:
    browser = await _browser(person, own_ip_client)
    secret, codes = await _enable(services, person, browser)
    url = f"{ACCOUNT}/two-factor/disable"
    no_password = await browser.post(url, {"password": "a wrong guess here", "code": codes[1]})
    assert no_password.status_code == 400
    assert no_password.json()["error"]["details"]["fields"][0]["field"] == "password"
    no_code = await browser.post(url, {"password": person.password, "code": "999999"})
    assert no_code.status_code == 400
    assert no_code.json()["error"]["details"]["fields"][0]["field"] == "code"
    code = await fresh_code(services, person.user_id, secret)
    off = await browser.post(url, {"password": person.password, "code": code})
    assert off.status_code == 200, off.text
    assert (await api_login(own_ip_client(), person.email, person.password)).status_code == 200
    async with services.postgres.session() as session:
        assert await recovery_codes.remaining(session, person.user_id) == 0
    assert "auth.2fa_disabled" in await audit_actions(services, person.user_id)


async def test_new_recovery_codes_replace_the_old_ones(
    person: Person, services: Services, own_ip_client: ClientFactory
) -> None:
    browser = await _browser(person, own_ip_client)
    secret, old = await _enable(services, person, browser)
    url = f"{ACCOUNT}/two-factor/recovery-codes"
    refused = await browser.post(url, {"code": "111111"})
    assert refused.status_code == 400
    made = await browser.post(url, {"code": await fresh_code(services, person.user_id, secret)})
    assert made.status_code == 200
    new = made.json()["recoveryCodes"]
    assert len(new) == 10 and not set(new) & set(old)
    async with services.postgres.session() as session:
        assert await recovery_codes.consume(session, person.user_id, old[0]) is None
        assert await recovery_codes.consume(session, person.user_id, new[0]) == 9
    assert "auth.recovery_codes_regenerated" in await audit_actions(services, person.user_id)


async def test_only_the_persons_own_session_reaches_the_security_routes(
    person: Person, own_ip_client: ClientFactory
) -> None:
    http = own_ip_client()
    csrf = await logged_in(http, person)
    key = await http.post(
        "/api/v1/api-keys",
        headers={"X-CSRF-Token": csrf},
        json={"name": "k", "scopes": ["management", "reporting"]},
    )
    bearer = {"Authorization": f"Bearer {key.json()['key']}"}
    anonymous = own_ip_client()
    assert (await anonymous.get(f"{ACCOUNT}/security", headers=bearer)).status_code == 401
    enrol = await anonymous.post(f"{ACCOUNT}/two-factor/enrolment", headers=bearer)
    assert enrol.status_code == 401
    no_csrf = await http.post(f"{ACCOUNT}/two-factor/enrolment")
    assert no_csrf.status_code == 403


async def test_the_console_sets_up_two_factor_and_asks_for_the_code(
    person: Person, services: Services, own_ip_client: ClientFactory
) -> None:
    http = own_ip_client()
    login = await http.post("/login", data={"email": person.email, "password": person.password})
    assert login.status_code == 303
    page = await http.get("/settings/security")
    assert 'data-state="off"' in page.text
    csrf = CSRF.search(page.text)
    assert csrf
    await http.post("/settings/security/two-factor/enrol", data={"csrf_token": csrf.group(1)})
    page = await http.get("/settings/security")
    assert 'data-state="pending"' in page.text and "<svg" in page.text
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page.text)
    assert secret
    old_cookie = http.cookies.get("apex_session")
    shown = await http.post(
        "/settings/security/two-factor/confirm",
        data={
            "csrf_token": CSRF.search(page.text).group(1),  # type: ignore[union-attr]
            "code": await fresh_code(services, person.user_id, secret.group(1)),
        },
    )
    assert shown.status_code == 200
    assert shown.text.count("<li><code>") == 10
    assert http.cookies.get("apex_session") != old_cookie
    assert 'data-state="on"' in (await http.get("/settings/security")).text

    fresh = own_ip_client()
    asked = await fresh.post("/login", data={"email": person.email, "password": person.password})
    assert asked.status_code == 200 and 'name="challenge"' in asked.text
    challenge = re.search(r'name="challenge" value="([^"]+)"', asked.text)
    assert challenge
    wrong = await fresh.post(
        "/login/second-step", data={"challenge": challenge.group(1), "code": "000000"}
    )
    assert wrong.status_code == 401 and "the code is not right" in wrong.text
    code = await fresh_code(services, person.user_id, secret.group(1))
    done = await fresh.post(
        "/login/second-step", data={"challenge": challenge.group(1), "code": code}
    )
    assert done.status_code == 303 and done.headers["location"] == "/dashboard"
    assert (await fresh.get("/dashboard")).status_code == 200


async def test_the_console_makes_new_codes_and_turns_two_factor_off(
    person: Person, services: Services, own_ip_client: ClientFactory
) -> None:
    browser = await _browser(person, own_ip_client)
    secret, old_codes = await _enable(services, person, browser)
    http = own_ip_client()
    token = (await api_login(http, person.email, person.password)).json()["challengeToken"]
    await http.post(
        "/api/v1/auth/login/second-step",
        json={"challengeToken": token, "recoveryCode": old_codes[0]},
    )
    page = await http.get("/settings/security")
    assert 'data-state="on"' in page.text and "9 of 10 recovery codes left" in page.text
    csrf = CSRF.search(page.text)
    assert csrf
    wrong = await http.post(
        "/settings/security/two-factor/recovery-codes",
        data={"csrf_token": csrf.group(1), "code": "000000"},
    )
    assert wrong.status_code == 400 and "code: the code is not right" in wrong.text
    shown = await http.post(
        "/settings/security/two-factor/recovery-codes",
        data={
            "csrf_token": csrf.group(1),
            "code": await fresh_code(services, person.user_id, secret),
        },
    )
    assert shown.status_code == 200 and shown.text.count("<li><code>") == 10
    assert old_codes[1] not in shown.text

    refused = await http.post(
        "/settings/security/two-factor/disable",
        data={"csrf_token": csrf.group(1), "password": "a wrong guess here", "code": "1"},
    )
    assert refused.status_code == 400 and "password: the password is not right" in refused.text
    new_code = re.findall(r"<li><code>([a-z0-9-]+)</code>", shown.text)[0]
    off = await http.post(
        "/settings/security/two-factor/disable",
        data={"csrf_token": csrf.group(1), "password": person.password, "code": new_code},
    )
    assert off.status_code == 303 and off.headers["location"].endswith("done=2fa-off")
    page = await http.get(off.headers["location"])
    assert 'data-state="off"' in page.text and "Two-factor authentication is off." in page.text
    actions = await audit_actions(services, person.user_id)
    assert actions.count("auth.recovery_code_used") == 2  # the login and the turning off
    assert "auth.2fa_disabled" in actions


async def test_a_secret_that_no_longer_decrypts_fails_codes_not_the_server(
    person: Person, services: Services
) -> None:
    """After APEX_SECRET_KEY changed without re-encryption: codes fail, nothing breaks."""
    key = services.settings.secret
    async with services.postgres.session() as session:
        user = await users.get_user(session, person.user_id)
        enrolment = await two_factor.begin_enrolment(session, key, user)
        await session.commit()
    async with services.postgres.session() as session:
        user = await users.get_user(session, person.user_id)
        code = await fresh_code(services, person.user_id, enrolment.secret)
        assert not await two_factor.verify_code(
            session, b"another key", user.id, code, pending=True
        )
        assert await two_factor.pending_enrolment(session, b"another key", user) is None
        assert await two_factor.verify_code(session, key, user.id, code, pending=True)


async def test_audit_rows_never_hold_what_was_typed(
    person: Person, services: Services, own_ip_client: ClientFactory
) -> None:
    browser = await _browser(person, own_ip_client)
    secret, codes = await _enable(services, person, browser)
    http = own_ip_client()
    await api_login(http, person.email, "a mistaken password")
    token = (await api_login(http, person.email, person.password)).json()["challengeToken"]
    step = "/api/v1/auth/login/second-step"
    await http.post(step, json={"challengeToken": token, "recoveryCode": "zzzz-zzzz-zzzz"})
    await http.post(step, json={"challengeToken": token, "recoveryCode": codes[0]})
    async with services.postgres.session() as session:
        rows = list(
            await session.scalars(select(AuditLog).where(AuditLog.actor_id == str(person.user_id)))
        )
    assert {"auth.login_failed", "auth.recovery_code_used", "auth.2fa_enabled"} <= {
        r.action for r in rows
    }
    written = " ".join(f"{r.details} {r.before_digest} {r.after_digest}" for r in rows)
    for typed in (person.password, "a mistaken password", secret, codes[0], "zzzz-zzzz-zzzz"):
        assert typed not in written

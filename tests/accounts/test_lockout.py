"""Login throttling per account: locks after consecutive failures, doubling, for the API and the
console alike, and the same answers whether or not the address has an account."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select, update

from apex_mediation.accounts import throttle, users
from apex_mediation.accounts.errors import AuthenticationFailed
from apex_mediation.db.models import AuditLog, LoginThrottle
from apex_mediation.services import Services
from tests.accounts.conftest import ClientFactory, Person, api_login, audit_actions

WRONG = "not the password at all"


def test_locks_start_at_fifteen_minutes_and_double_up_to_a_day() -> None:
    lengths = [throttle.lock_length(n) for n in range(1, 9)]
    assert [int(x.total_seconds() // 60) for x in lengths[:4]] == [15, 30, 60, 120]
    assert max(lengths) == dt.timedelta(hours=24)
    assert throttle.lock_length(10_000) == dt.timedelta(hours=24)


async def test_five_failures_lock_the_account_for_the_api_and_the_console(
    person: Person, services: Services, own_ip_client: ClientFactory
) -> None:
    http = own_ip_client()
    answers = [await api_login(http, person.email, WRONG) for _ in range(throttle.MAX_FAILURES)]
    assert [r.status_code for r in answers] == [401] * 4 + [429]
    assert 800 <= int(answers[-1].headers["retry-after"]) <= 900
    assert "try again in 15 minutes" in answers[-1].json()["error"]["message"]

    # The right password changes nothing while the lock holds, on either surface.
    right = await api_login(own_ip_client(), person.email, person.password)
    assert right.status_code == 429
    page = await own_ip_client().post(
        "/login", data={"email": person.email, "password": person.password}
    )
    assert page.status_code == 429
    assert "too many failed attempts" in page.text

    actions = await audit_actions(services, person.user_id)
    assert actions.count("auth.login_failed") == throttle.MAX_FAILURES
    assert actions.count("auth.account_locked") == 1
    assert "auth.login" not in actions
    async with services.postgres.session() as session:
        details = await session.scalar(
            select(AuditLog.details).where(
                AuditLog.actor_id == str(person.user_id), AuditLog.action == "auth.account_locked"
            )
        )
    assert details == {"minutes": 15, "lockouts": 1}


async def test_an_unknown_address_gets_the_same_answers(
    person: Person, own_ip_client: ClientFactory
) -> None:
    http = own_ip_client()
    unknown = f"nobody-{person.email}"
    known = [await api_login(http, person.email, WRONG) for _ in range(throttle.MAX_FAILURES)]
    other = [await api_login(http, unknown, WRONG) for _ in range(throttle.MAX_FAILURES)]
    assert [r.status_code for r in known] == [r.status_code for r in other]
    assert [r.json()["error"]["message"] for r in known] == [
        r.json()["error"]["message"] for r in other
    ]
    assert known[0].json()["error"]["message"] == "email or password is incorrect"


async def test_a_successful_login_resets_the_count(person: Person, services: Services) -> None:
    for _ in range(2):
        for _ in range(throttle.MAX_FAILURES - 1):
            async with services.postgres.session() as session:
                with pytest.raises(AuthenticationFailed) as caught:
                    await users.log_in(session, person.email, WRONG)
                assert not isinstance(caught.value, throttle.LockedOut)
        async with services.postgres.session() as session:
            outcome = await users.log_in(session, person.email, person.password)
            await session.commit()
        assert outcome.second_step is None
    async with services.postgres.session() as session:
        left = await session.scalar(
            select(func.count()).where(LoginThrottle.key_hash == throttle.key_of(person.email))
        )
    assert left == 0
    assert (await audit_actions(services, person.user_id)).count("auth.login") == 2


async def _fail_until_locked(services: Services, email: str) -> throttle.LockedOut:
    for attempt in range(1, throttle.MAX_FAILURES + 1):
        async with services.postgres.session() as session:
            with pytest.raises(AuthenticationFailed) as caught:
                await users.log_in(session, email, WRONG)
        if attempt < throttle.MAX_FAILURES:
            assert not isinstance(caught.value, throttle.LockedOut)
    assert isinstance(caught.value, throttle.LockedOut)
    return caught.value


async def _end_the_lock(services: Services, email: str) -> None:
    """Move the lock into the past, as 15 minutes of waiting would."""
    async with services.postgres.session() as session:
        await session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key_hash == throttle.key_of(email))
            .values(locked_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        await session.commit()


async def test_each_further_lock_lasts_twice_as_long_and_a_lock_ends(
    person: Person, services: Services
) -> None:
    first = await _fail_until_locked(services, person.email)
    assert 890 <= first.retry_after <= 900
    await _end_the_lock(services, person.email)
    second = await _fail_until_locked(services, person.email)
    assert 1790 <= second.retry_after <= 1800
    await _end_the_lock(services, person.email)
    async with services.postgres.session() as session:
        outcome = await users.log_in(session, person.email, person.password)
        await session.commit()
    assert outcome.user.id == person.user_id


async def test_parallel_guesses_cannot_overtake_the_limit(
    person: Person, services: Services
) -> None:
    async def guess() -> AuthenticationFailed:
        async with services.postgres.session() as session:
            try:
                await users.log_in(session, person.email, WRONG)
            except AuthenticationFailed as exc:
                return exc
        raise AssertionError("a wrong password logged in")

    results = await asyncio.gather(*(guess() for _ in range(12)))
    assert sum(isinstance(r, throttle.LockedOut) for r in results) >= 12 - throttle.MAX_FAILURES
    # Only the attempts let through were checked and audited as failures.
    actions = await audit_actions(services, person.user_id)
    assert actions.count("auth.login_failed") <= throttle.MAX_FAILURES
    async with services.postgres.session() as session:
        with pytest.raises(throttle.LockedOut):
            await users.log_in(session, person.email, person.password)

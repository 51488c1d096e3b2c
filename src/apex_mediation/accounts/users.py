"""Logging in, in one or two steps, and changing the password.

Step one checks the password against its argon2 hash (an unknown address is checked against a
dummy hash, so it costs the same and answers the same). An account with two-factor
authentication then gets a challenge: a short-lived token with its own few attempts, redeemed
with a code from the app or a recovery code. Every attempt is counted by the login throttle
first, so a lock stops password and code guessing alike. Successes, failures and locks are
audited; the audit rows never hold what was typed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import audit, recovery_codes, sessions, throttle, two_factor
from apex_mediation.accounts.errors import AuthenticationFailed, InvalidInput
from apex_mediation.accounts.identity import Actor
from apex_mediation.accounts.passwords import (
    check_policy,
    hash_password,
    needs_rehash,
    verify_password,
)
from apex_mediation.db.models import LoginChallenge, User

BAD_CREDENTIALS = "email or password is incorrect"
CHALLENGE_TTL = dt.timedelta(minutes=5)
# Fewer than the throttle's limit: a used-up challenge means entering the password again.
CHALLENGE_ATTEMPTS = 3
MAX_TOKEN_LENGTH = 128


@dataclass(frozen=True)
class SecondStep:
    """The password was right; a code is needed. `token` goes to the client, never stored."""

    token: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class LoginOutcome:
    user: User
    second_step: SecondStep | None  # None: logged in; else redeem it with `complete_second_step`


def _actor(user: User | None, ip: str | None) -> Actor:
    return Actor(kind="user", id=str(user.id) if user else None, publisher_id=None, ip=ip)


def _hash(token: str) -> str:
    return hashlib.sha256(token[:MAX_TOKEN_LENGTH].encode()).hexdigest()


async def _failed(
    session: AsyncSession, email: str, user: User | None, ip: str | None, reason: str
) -> AuthenticationFailed:
    """Audit a failed attempt and keep it in the throttle; the error to raise (a lock's when
    this failure locked the address)."""
    await audit.record(
        session,
        _actor(user, ip),
        "auth.login_failed",
        "user",
        user.id if user else None,
        details={"reason": reason},
    )
    locked = await throttle.fail(session, email, _actor(user, ip), user.id if user else None)
    return locked or AuthenticationFailed(BAD_CREDENTIALS)


async def _logged_in(session: AsyncSession, user: User, ip: str | None, *, factor: str) -> None:
    await throttle.reset(session, user.email)
    user.last_login_at = func.now()
    await audit.record(
        session, _actor(user, ip), "auth.login", "user", user.id, details={"factor": factor}
    )


async def log_in(
    session: AsyncSession, email: str, password: str, ip: str | None = None
) -> LoginOutcome:
    """Check the password. Raises AuthenticationFailed (the same for an unknown address and a
    wrong password) or throttle.LockedOut (the same for any address)."""
    email = email.strip().lower()[:254]
    await throttle.claim(session, email)
    user = await session.scalar(select(User).where(User.email == email))
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise await _failed(session, email, user, ip, "bad_credentials")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    if not await two_factor.is_enabled(session, user.id):
        await _logged_in(session, user, ip, factor="password")
        return LoginOutcome(user, None)
    await throttle.give_back(session, email)
    token = secrets.token_urlsafe(32)
    expires = dt.datetime.now(dt.UTC) + CHALLENGE_TTL
    await session.execute(delete(LoginChallenge).where(LoginChallenge.user_id == user.id))
    session.add(LoginChallenge(token_hash=_hash(token), user_id=user.id, expires_at=expires))
    await session.flush()
    return LoginOutcome(user, SecondStep(token, expires))


async def complete_second_step(
    session: AsyncSession,
    key: bytes,
    token: str,
    *,
    code: str | None = None,
    recovery_code: str | None = None,
    ip: str | None = None,
) -> User:
    """Redeem a challenge with a code from the app or a recovery code (each used once).
    After CHALLENGE_ATTEMPTS wrong codes the challenge ends: log in again."""
    if not (code or recovery_code):
        raise InvalidInput(
            "enter the code from your authenticator app or a recovery code", field="code"
        )
    challenge = await session.scalar(
        select(LoginChallenge).where(LoginChallenge.token_hash == _hash(token))
    )
    if challenge is None or challenge.expires_at <= dt.datetime.now(dt.UTC):
        raise AuthenticationFailed("this login has expired: enter your email and password again")
    user = await session.get(User, challenge.user_id)
    assert user is not None  # the challenge would have gone with the user (cascade)
    await throttle.claim(session, user.email)
    # Locked only now, after the claim's commit: concurrent attempts count one at a time.
    challenge = await session.scalar(
        select(LoginChallenge)
        .where(LoginChallenge.token_hash == _hash(token))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if challenge is None:  # spent by a concurrent attempt meanwhile
        raise AuthenticationFailed("this login has expired: enter your email and password again")
    challenge.attempts += 1
    if recovery_code:
        left = await recovery_codes.consume(session, user.id, recovery_code)
        ok = left is not None
    else:
        ok = await two_factor.verify_code(session, key, user.id, code or "")
    if not ok:
        if challenge.attempts >= CHALLENGE_ATTEMPTS:
            await session.delete(challenge)
        reason = "bad_recovery_code" if recovery_code else "bad_code"
        failed = await _failed(session, user.email, user, ip, reason)
        if isinstance(failed, throttle.LockedOut):
            raise failed
        if recovery_code:
            raise InvalidInput(
                "this recovery code is not right or was used already", field="recoveryCode"
            )
        raise InvalidInput("the code is not right: try the current one", field="code")
    await session.delete(challenge)
    if recovery_code:
        await audit.record(
            session,
            _actor(user, ip),
            "auth.recovery_code_used",
            "user",
            user.id,
            details={"remaining": left},
        )
    await _logged_in(session, user, ip, factor="recovery_code" if recovery_code else "totp")
    return user


async def change_password(
    session: AsyncSession, user: User, current: str, new: str, *, ip: str | None = None
) -> None:
    """Set a new password after checking the current one; every session of the user ends (the
    caller opens a fresh one for the browser that asked)."""
    try:
        check_policy(new, user.email)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, field="newPassword") from exc
    await throttle.claim(session, user.email)
    if not verify_password(user.password_hash, current):
        await audit.record(
            session,
            _actor(user, ip),
            "auth.reauth_failed",
            "user",
            user.id,
            details={"field": "currentPassword"},
        )
        locked = await throttle.fail(session, user.email, _actor(user, ip), user.id)
        if locked is not None:
            raise locked
        raise InvalidInput("this is not your current password", field="currentPassword")
    await throttle.reset(session, user.email)
    user.password_hash = hash_password(new)
    await sessions.close_all_for_user(session, user.id)
    await audit.record(
        session,
        _actor(user, ip),
        "auth.password_changed",
        "user",
        user.id,
        details={"sessions_closed": True},
    )


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise AuthenticationFailed("not logged in")
    return user

"""Password reset by email: a single-use link valid for an hour.

Asking for a reset answers the same whatever the address (the caller shows one page either way),
so nobody can probe which emails have accounts. Completing it sets the new password under the
signup policy, spends every outstanding link of the user and closes all their sessions.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import audit, sessions, throttle
from apex_mediation.accounts.identity import Actor
from apex_mediation.accounts.passwords import check_policy, hash_password
from apex_mediation.accounts.tokens import (
    MAX_TOKEN_LENGTH,
    LinkInvalid,
    check_usable,
    hash_token,
    new_token,
    now,
)
from apex_mediation.db.models import PasswordResetToken, User

RESET_TTL = dt.timedelta(hours=1)


@dataclass(frozen=True)
class IssuedReset:
    user_id: uuid.UUID
    email: str
    token: str  # goes into the emailed link, never stored
    expires_at: dt.datetime


async def request_reset(
    session: AsyncSession, email: str, *, ip: str | None = None
) -> IssuedReset | None:
    """A reset link for the account with this email, or None when there is none. Both outcomes
    do the same work up to the insert and are audited without the address itself."""
    token = new_token()
    token_hash = hash_token(token)
    address = email.strip().lower()[:254]
    user = await session.scalar(select(User).where(User.email == address))
    actor = Actor(kind="user", id=str(user.id) if user else None, publisher_id=None, ip=ip)
    await audit.record(
        session,
        actor,
        "auth.password_reset_requested",
        "user",
        user.id if user else None,
        details={"known_account": user is not None},
    )
    if user is None:
        return None
    expires = now() + RESET_TTL
    session.add(PasswordResetToken(token_hash=token_hash, user_id=user.id, expires_at=expires))
    await session.flush()
    return IssuedReset(user_id=user.id, email=user.email, token=token, expires_at=expires)


async def _usable(session: AsyncSession, token: str, *, lock: bool) -> PasswordResetToken:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise LinkInvalid("unknown")
    query = select(PasswordResetToken).where(PasswordResetToken.token_hash == hash_token(token))
    row = await session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise LinkInvalid("unknown")
    check_usable(expires_at=row.expires_at, used_at=row.used_at)
    return row


async def check_link(session: AsyncSession, token: str) -> None:
    """Raise LinkInvalid unless the link can still set a password."""
    await _usable(session, token, lock=False)


async def complete_reset(
    session: AsyncSession, token: str, new_password: str, *, ip: str | None = None
) -> User:
    """Set the new password; the link and every other outstanding one of the user are spent and
    all the user's sessions end. A password refused by the policy leaves the link usable."""
    row = await _usable(session, token, lock=True)
    user = await session.get(User, row.user_id)
    if user is None:  # the user was deleted (the cascade would have removed the token too)
        raise LinkInvalid("unknown")
    check_policy(new_password, user.email)
    user.password_hash = hash_password(new_password)
    await session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now())
    )
    await sessions.close_all_for_user(session, user.id)
    await throttle.reset(session, user.email)  # the link proved the address: unlock it
    await audit.record(
        session,
        Actor(kind="user", id=str(user.id), publisher_id=None, ip=ip),
        "auth.password_reset",
        "user",
        user.id,
        details={"sessions_closed": True},
    )
    await session.flush()
    return user

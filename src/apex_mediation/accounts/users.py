"""Logging in: credentials checked against argon2 hashes, with the same timing for unknown users."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import audit
from apex_mediation.accounts.errors import AuthenticationFailed
from apex_mediation.accounts.identity import Actor
from apex_mediation.accounts.passwords import hash_password, needs_rehash, verify_password
from apex_mediation.db.models import User


async def authenticate(
    session: AsyncSession, email: str, password: str, ip: str | None = None
) -> User:
    """Return the user for these credentials or raise; both outcomes are audited."""
    email = email.strip().lower()
    user = await session.scalar(select(User).where(User.email == email))
    if not verify_password(user.password_hash if user else None, password) or user is None:
        actor = Actor(kind="user", id=str(user.id) if user else None, publisher_id=None, ip=ip)
        await audit.record(
            session,
            actor,
            "auth.login_failed",
            "user",
            user.id if user else None,
            details={"reason": "bad_credentials"},
        )
        await session.commit()
        raise AuthenticationFailed("email or password is incorrect")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = func.now()
    await audit.record(
        session,
        Actor(kind="user", id=str(user.id), publisher_id=None, ip=ip),
        "auth.login",
        "user",
        user.id,
    )
    return user

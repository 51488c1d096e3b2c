"""Console sessions, stored server-side: the cookie holds a random token, the table its hash."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts.network_ip import truncate_ip
from apex_mediation.db.models import ConsoleSession, Publisher, User

COOKIE_NAME = "apex_session"
# The publisher a member of several is working on in the console; the API honours it too, so
# that the console's download links export the publisher on screen.
PUBLISHER_COOKIE_NAME = "apex_publisher"


def choose_membership(
    wanted: str | None, mine: list[tuple[Publisher, str]]
) -> tuple[Publisher, str] | None:
    """The membership named by the publisher cookie, else the first; None without any."""
    for publisher, role in mine:
        if wanted and str(publisher.id) == wanted:
            return publisher, role
    return mine[0] if mine else None


@dataclass(frozen=True)
class OpenedSession:
    token: str  # goes into the cookie, never stored
    csrf_token: str
    expires_at: dt.datetime


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def open_session(
    session: AsyncSession, user_id: uuid.UUID, *, ttl: dt.timedelta, ip: str | None = None
) -> OpenedSession:
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    expires = dt.datetime.now(dt.UTC) + ttl
    session.add(
        ConsoleSession(
            token_hash=_hash(token),
            user_id=user_id,
            csrf_token=csrf,
            expires_at=expires,
            ip_prefix=truncate_ip(ip),
        )
    )
    await session.flush()
    return OpenedSession(token=token, csrf_token=csrf, expires_at=expires)


async def resolve(session: AsyncSession, token: str) -> tuple[User, ConsoleSession] | None:
    row = (
        await session.execute(
            select(User, ConsoleSession)
            .join(ConsoleSession, ConsoleSession.user_id == User.id)
            .where(
                ConsoleSession.token_hash == _hash(token),
                ConsoleSession.expires_at > dt.datetime.now(dt.UTC),
            )
        )
    ).first()
    return (row[0], row[1]) if row else None


async def close_session(session: AsyncSession, token: str) -> None:
    await session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == _hash(token)))


async def close_all_for_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user_id))


async def rotate(
    session: AsyncSession,
    old_token: str | None,
    user_id: uuid.UUID,
    *,
    ttl: dt.timedelta,
    ip: str | None = None,
) -> OpenedSession:
    """A new session id for the same browser after a change of privilege (login, two-factor
    change, password change): the old id stops working, so one planted or stolen before the
    change is worthless after it."""
    if old_token:
        await close_session(session, old_token)
    return await open_session(session, user_id, ttl=ttl, ip=ip)

"""Login throttling per account: consecutive failures lock the address for a growing period.

Every attempt on an address (a password, a second-factor code, a re-entered password) is
counted before it is checked, so parallel guesses cannot overtake the limit; a correct answer
gives the attempt back, a wrong one keeps it. At `MAX_FAILURES` the address locks for
`FIRST_LOCK`, and each further lock within a day of the last failure lasts twice as long, up to
`LONGEST_LOCK`. Rows are keyed by the address's sha256 whether or not an account has it, so a
lock says nothing about which addresses exist.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import uuid

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import audit
from apex_mediation.accounts.errors import AuthenticationFailed
from apex_mediation.accounts.identity import Actor
from apex_mediation.db.models import LoginThrottle

MAX_FAILURES = 5
FIRST_LOCK = dt.timedelta(minutes=15)
LONGEST_LOCK = dt.timedelta(hours=24)
# A quiet day forgets an address's history: its next lock is the first again.
FORGET_AFTER = dt.timedelta(days=1)
IN_FLIGHT_RETRY = dt.timedelta(seconds=30)


class LockedOut(AuthenticationFailed):
    """Too many failed attempts on this address; `retry_after` is in seconds."""

    def __init__(self, retry_after: dt.timedelta) -> None:
        minutes = max(1, math.ceil(retry_after.total_seconds() / 60))
        unit = "minute" if minutes == 1 else "minutes"
        super().__init__(
            f"too many failed attempts for this account: try again in {minutes} {unit}"
        )
        self.retry_after = max(1, math.ceil(retry_after.total_seconds()))


def key_of(email: str) -> str:
    return hashlib.sha256(email.strip().lower()[:254].encode()).hexdigest()


def lock_length(lockouts: int) -> dt.timedelta:
    """The length of the `lockouts`-th lock (1-based): 15 min, 30, 60, … at most a day."""
    doublings = min(max(lockouts - 1, 0), 16)
    length: dt.timedelta = min(FIRST_LOCK * (1 << doublings), LONGEST_LOCK)
    return length


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _locked_row(session: AsyncSession, key: str) -> LoginThrottle | None:
    row: LoginThrottle | None = await session.scalar(
        select(LoginThrottle)
        .where(LoginThrottle.key_hash == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return row


async def claim(session: AsyncSession, email: str) -> None:
    """Count an attempt before it is checked, and commit so that concurrent attempts see it.
    Raises LockedOut (changing nothing) while the address is locked, or while failed and
    in-flight attempts already reach the limit."""
    key = key_of(email)
    now = _now()
    await session.execute(insert(LoginThrottle).values(key_hash=key).on_conflict_do_nothing())
    row = await _locked_row(session, key)
    assert row is not None  # inserted just above, and only `fail` after a day deletes rows
    refusal: LockedOut | None = None
    if row.locked_until is not None and row.locked_until > now:
        refusal = LockedOut(row.locked_until - now)
    elif row.failures >= MAX_FAILURES:
        refusal = LockedOut(IN_FLIGHT_RETRY)
    if refusal is not None:
        await session.rollback()  # releases the row lock; nothing was changed
        raise refusal
    row.failures += 1
    row.updated_at = now
    await session.commit()


async def fail(
    session: AsyncSession, email: str, actor: Actor, user_id: uuid.UUID | None
) -> LockedOut | None:
    """Keep the claimed attempt as a failure; at the limit, lock the address (audited) and
    return the error to raise. Commits, like the failed attempt's own audit row."""
    now = _now()
    row = await _locked_row(session, key_of(email))
    locked: LockedOut | None = None
    if row is not None and row.failures >= MAX_FAILURES:
        row.lockouts += 1
        length = lock_length(row.lockouts)
        row.locked_until = now + length
        row.failures = 0
        locked = LockedOut(length)
        await audit.record(
            session,
            actor,
            "auth.account_locked",
            "user",
            user_id,
            details={"minutes": int(length.total_seconds() // 60), "lockouts": row.lockouts},
        )
    if row is not None:
        row.updated_at = now
    await session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.updated_at < now - FORGET_AFTER,
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now),
        )
    )
    await session.commit()
    return locked


async def give_back(session: AsyncSession, email: str) -> None:
    """A right answer that does not finish a login (the password before the second factor):
    the attempt does not count, the earlier failures still do."""
    await session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key_hash == key_of(email), LoginThrottle.failures > 0)
        .values(failures=LoginThrottle.failures - 1)
    )


async def reset(session: AsyncSession, email: str) -> None:
    """A completed login or a password reset: the address starts afresh."""
    await session.execute(delete(LoginThrottle).where(LoginThrottle.key_hash == key_of(email)))

"""Recovery codes: ten single-use codes that stand in for the authenticator app.

A code is 12 characters from a 31-letter alphabet without look-alikes (about 59 bits); it is
shown once and stored as a sha256 with its own 16-byte salt (ASVS 2.6.2), so the table yields
no usable code. Hyphens, spaces and case do not matter when one is typed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
import uuid

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.db.models import RecoveryCode

COUNT = 10
LENGTH = 12
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
MAX_INPUT = 64


def normalise(code: str) -> str:
    return "".join(c for c in code[:MAX_INPUT].lower() if c not in "- \t")


def _hash(code: str, salt: bytes) -> str:
    return f"{salt.hex()}${hashlib.sha256(salt + normalise(code).encode()).hexdigest()}"


def matches(code: str, stored: str) -> bool:
    salt, _, _ = stored.partition("$")
    return hmac.compare_digest(_hash(code, bytes.fromhex(salt)), stored)


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, LENGTH, 4))


async def replace(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    """A fresh set of codes; every earlier one stops working. Returns them to show once."""
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = [new_code() for _ in range(COUNT)]
    session.add_all(
        RecoveryCode(id=uuid.uuid4(), user_id=user_id, code_hash=_hash(code, os.urandom(16)))
        for code in codes
    )
    await session.flush()
    return codes


async def consume(session: AsyncSession, user_id: uuid.UUID, code: str) -> int | None:
    """Spend the matching unused code: the number left afterwards, or None if none matched."""
    if not normalise(code):
        return None
    rows = list(
        await session.scalars(
            select(RecoveryCode)
            .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
            .with_for_update()
        )
    )
    found = next((row for row in rows if matches(code, row.code_hash)), None)
    if found is None:
        return None
    found.used_at = dt.datetime.now(dt.UTC)
    await session.flush()
    return len(rows) - 1


async def remaining(session: AsyncSession, user_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count()).where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
    )
    return int(count or 0)


async def remove_all(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))

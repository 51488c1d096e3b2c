"""TOTP two-factor authentication (RFC 6238: 6 digits, 30-second steps, SHA-1 as every
authenticator app expects).

Enrolling stores a new secret, encrypted under the platform key and bound to the user; it is
enabled only once a code from the app confirms it, which also issues the recovery codes. A code
is accepted one step either side of now for clock drift, and each step at most once (ASVS
2.8.4). Disabling needs the password and a code; new recovery codes need a code. Every check of
a code by a logged-in user is counted by the login throttle like a login attempt.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from dataclasses import dataclass

import pyotp
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import audit, crypto, recovery_codes, throttle
from apex_mediation.accounts.errors import Conflict, InvalidInput
from apex_mediation.accounts.identity import Actor
from apex_mediation.accounts.passwords import verify_password
from apex_mediation.db.models import User, UserTwoFactor

log = logging.getLogger(__name__)
ISSUER = "Apex Mediation"
PURPOSE = "totp-secret/v1"
DRIFT_STEPS = 1
_CODE = re.compile(r"^\d{6}$")


@dataclass(frozen=True)
class Enrolment:
    secret: str  # base32, for typing into an app by hand
    uri: str  # otpauth://, for the QR code


@dataclass(frozen=True)
class Status:
    enabled: bool
    pending: bool  # enrolment started, not yet confirmed
    recovery_codes_left: int


def _actor(user: User, ip: str | None) -> Actor:
    return Actor(kind="user", id=str(user.id), publisher_id=None, ip=ip)


async def _row(session: AsyncSession, user_id: uuid.UUID, *, lock: bool) -> UserTwoFactor | None:
    query = select(UserTwoFactor).where(UserTwoFactor.user_id == user_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    row: UserTwoFactor | None = await session.scalar(query)
    return row


async def status(session: AsyncSession, user_id: uuid.UUID) -> Status:
    row = await _row(session, user_id, lock=False)
    enabled = row is not None and row.enabled_at is not None
    left = await recovery_codes.remaining(session, user_id) if enabled else 0
    return Status(
        enabled=enabled, pending=row is not None and not enabled, recovery_codes_left=left
    )


async def is_enabled(session: AsyncSession, user_id: uuid.UUID) -> bool:
    enabled_at = await session.scalar(
        select(UserTwoFactor.enabled_at).where(UserTwoFactor.user_id == user_id)
    )
    return enabled_at is not None


def _secret_of(key: bytes, row: UserTwoFactor) -> str | None:
    """The secret, or None when it does not decrypt (APEX_SECRET_KEY changed without
    re-encryption): codes then fail, and recovery codes still let the user in."""
    try:
        return crypto.decrypt_text(key, row.secret_ciphertext, f"user:{row.user_id}", PURPOSE)
    except crypto.DecryptionError:
        log.error("the two-factor secret of user %s does not decrypt", row.user_id)
        return None


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


async def begin_enrolment(session: AsyncSession, key: bytes, user: User) -> Enrolment:
    """A new secret for the app; an unconfirmed earlier one is replaced."""
    row = await _row(session, user.id, lock=True)
    if row is not None and row.enabled_at is not None:
        raise Conflict("two-factor authentication is already on; turn it off first")
    secret = pyotp.random_base32()
    ciphertext = crypto.encrypt_text(key, secret, f"user:{user.id}", PURPOSE)
    if row is None:
        session.add(UserTwoFactor(user_id=user.id, secret_ciphertext=ciphertext))
    else:
        row.secret_ciphertext = ciphertext
        row.last_used_step = None
    await session.flush()
    return Enrolment(secret=secret, uri=provisioning_uri(secret, user.email))


async def pending_enrolment(session: AsyncSession, key: bytes, user: User) -> Enrolment | None:
    """The unconfirmed enrolment's secret, to show again (e.g. after a mistyped code)."""
    row = await _row(session, user.id, lock=False)
    if row is None or row.enabled_at is not None:
        return None
    secret = _secret_of(key, row)
    if secret is None:
        return None
    return Enrolment(secret=secret, uri=provisioning_uri(secret, user.email))


def _accepted_step(secret: str, code: str, last_used: int | None, at: dt.datetime) -> int | None:
    """The time step whose code this is, within the drift window and after the last one used."""
    if not _CODE.match(code):
        return None
    totp = pyotp.TOTP(secret)
    now_step = totp.timecode(at)
    for step in range(now_step - DRIFT_STEPS, now_step + DRIFT_STEPS + 1):
        if last_used is not None and step <= last_used:
            continue
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


async def verify_code(
    session: AsyncSession, key: bytes, user_id: uuid.UUID, code: str, *, pending: bool = False
) -> bool:
    """Check a code from the app and spend its time step. `pending` checks the unconfirmed
    secret of an enrolment instead of the enabled one."""
    row = await _row(session, user_id, lock=True)
    secret = _secret_of(key, row) if row is not None else None
    if row is None or secret is None or (row.enabled_at is None) != pending:
        return False
    step = _accepted_step(
        secret,
        code.strip().replace(" ", ""),
        row.last_used_step,
        dt.datetime.now(dt.UTC),
    )
    if step is None:
        return False
    row.last_used_step = step
    await session.flush()
    return True


async def _counted(
    session: AsyncSession, user: User, ip: str | None, check: bool, field: str, message: str
) -> None:
    """Turn the outcome of a claimed attempt into a kept failure (raising) or a fresh start."""
    if check:
        await throttle.reset(session, user.email)
        return
    await audit.record(
        session, _actor(user, ip), "auth.reauth_failed", "user", user.id, details={"field": field}
    )
    locked = await throttle.fail(session, user.email, _actor(user, ip), user.id)
    if locked is not None:
        raise locked
    raise InvalidInput(message, field=field)


async def confirm(
    session: AsyncSession, key: bytes, user: User, code: str, *, ip: str | None = None
) -> list[str]:
    """Turn two-factor on with a first code from the app; returns the recovery codes."""
    if not (await status(session, user.id)).pending:
        raise Conflict("start the set-up first: there is no authenticator waiting for a code")
    await throttle.claim(session, user.email)
    ok = await verify_code(session, key, user.id, code, pending=True)
    await _counted(session, user, ip, ok, "code", "the code is not right: check the app's clock")
    row = await _row(session, user.id, lock=True)
    assert row is not None
    row.enabled_at = dt.datetime.now(dt.UTC)
    codes = await recovery_codes.replace(session, user.id)
    await audit.record(session, _actor(user, ip), "auth.2fa_enabled", "user", user.id)
    return codes


async def _check_code_or_recovery(
    session: AsyncSession, key: bytes, user: User, code: str, ip: str | None
) -> bool:
    if await verify_code(session, key, user.id, code):
        return True
    left = await recovery_codes.consume(session, user.id, code)
    if left is None:
        return False
    await audit.record(
        session,
        _actor(user, ip),
        "auth.recovery_code_used",
        "user",
        user.id,
        details={"remaining": left},
    )
    return True


async def disable(
    session: AsyncSession,
    key: bytes,
    user: User,
    *,
    password: str,
    code: str,
    ip: str | None = None,
) -> None:
    """Turn two-factor off: the password and a code (or a recovery code) prove it is the user."""
    if not await is_enabled(session, user.id):
        raise Conflict("two-factor authentication is not on")
    await throttle.claim(session, user.email)
    password_ok = verify_password(user.password_hash, password)
    await _counted(session, user, ip, password_ok, "password", "the password is not right")
    await throttle.claim(session, user.email)
    code_ok = await _check_code_or_recovery(session, key, user, code, ip)
    await _counted(session, user, ip, code_ok, "code", "the code is not right")
    await session.execute(delete(UserTwoFactor).where(UserTwoFactor.user_id == user.id))
    await recovery_codes.remove_all(session, user.id)
    await audit.record(session, _actor(user, ip), "auth.2fa_disabled", "user", user.id)


async def regenerate_recovery_codes(
    session: AsyncSession, key: bytes, user: User, *, code: str, ip: str | None = None
) -> list[str]:
    """A new set of ten codes, confirmed by a code from the app; the old set stops working."""
    if not await is_enabled(session, user.id):
        raise Conflict("two-factor authentication is not on")
    await throttle.claim(session, user.email)
    ok = await verify_code(session, key, user.id, code)
    await _counted(session, user, ip, ok, "code", "the code is not right: check the app's clock")
    codes = await recovery_codes.replace(session, user.id)
    await audit.record(
        session, _actor(user, ip), "auth.recovery_codes_regenerated", "user", user.id
    )
    return codes

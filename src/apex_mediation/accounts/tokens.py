"""Single-use tokens sent by email (password resets, invitations): 256 random bits in the link,
only their sha256 in the database, so a database leak yields no usable link."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Literal

from apex_mediation.accounts.errors import NotFound

Reason = Literal["unknown", "expired", "used", "revoked"]
MAX_TOKEN_LENGTH = 128
_MESSAGES: dict[Reason, str] = {
    "unknown": "this link is not valid; check that it was copied completely",
    "expired": "this link has expired",
    "used": "this link was already used",
    "revoked": "this link was withdrawn",
}


class LinkInvalid(NotFound):
    """An emailed link that cannot be used (any more); `reason` says why."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(_MESSAGES[reason])
        self.reason: Reason = reason


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token[:MAX_TOKEN_LENGTH].encode()).hexdigest()


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def check_usable(
    *,
    expires_at: dt.datetime,
    used_at: dt.datetime | None,
    revoked_at: dt.datetime | None = None,
    at: dt.datetime | None = None,
) -> None:
    """Raise LinkInvalid unless the token is unused, not withdrawn and not expired."""
    if used_at is not None:
        raise LinkInvalid("used")
    if revoked_at is not None:
        raise LinkInvalid("revoked")
    if expires_at <= (at or now()):
        raise LinkInvalid("expired")

"""Signed, expiring download links for data exports: HMAC-SHA256 over the request id and the
expiry, under a key derived from the app secret for this purpose only."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from urllib.parse import urlencode

from apex_mediation.accounts.errors import DomainError

_LABEL = b"apex-privacy-export-link"


class LinkRejected(DomainError):
    """A link that was altered (403) or has expired (410)."""

    def __init__(self, message: str, *, expired: bool) -> None:
        super().__init__(message)
        self.expired = expired


def _signature(secret: bytes, request_id: uuid.UUID, expires: int) -> str:
    key = hmac.new(secret, _LABEL, hashlib.sha256).digest()
    return hmac.new(key, f"{request_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def sign(secret: bytes, base_url: str, request_id: uuid.UUID, expires: int) -> str:
    query = urlencode({"expires": expires, "signature": _signature(secret, request_id, expires)})
    return f"{base_url.rstrip('/')}/api/v1/privacy/exports/{request_id}/download?{query}"


def verify(
    secret: bytes, request_id: uuid.UUID, expires: int, signature: str, now: float | None = None
) -> None:
    """Raise LinkRejected unless the signature matches and the link has not expired."""
    expected = _signature(secret, request_id, expires)
    given = signature.strip().lower().encode("utf-8", "replace")  # bytes: any text compares
    if not hmac.compare_digest(expected.encode(), given):
        raise LinkRejected("download link signature is invalid", expired=False)
    if (time.time() if now is None else now) >= expires:
        raise LinkRejected("download link has expired; request a new export", expired=True)

"""Signed unsubscribe links: the token is the credential, so the page needs no login.

A token is `base64url(user id bytes + kind) . base64url(HMAC-SHA256)` under a key derived from
the platform secret. It does not expire: an unsubscribe link in an old email must keep working,
and all it can ever do is turn one kind of email off for one user.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import uuid

from apex_mediation.accounts.crypto import derive_key
from apex_mediation.accounts.notifications import KINDS, Kind
from apex_mediation.settings import Settings

PATH = "/notifications/unsubscribe"
_PURPOSE = "notify-unsubscribe/v1"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")

__all__ = ["PATH", "BadToken", "headers", "make_token", "read_token", "url"]


class BadToken(ValueError):
    """The token is malformed or its signature does not match; the message says which."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, body: bytes) -> bytes:
    return hmac.new(derive_key(secret, _PURPOSE), body, hashlib.sha256).digest()


def make_token(secret: bytes, user_id: uuid.UUID, kind: Kind) -> str:
    body = user_id.bytes + kind.encode()
    return f"{_b64(body)}.{_b64(_mac(secret, body))}"


def read_token(secret: bytes, token: str) -> tuple[uuid.UUID, Kind]:
    """The user and the kind of email a token turns off; raises BadToken."""
    encoded_body, dot, encoded_mac = token.strip().partition(".")
    if not dot or not encoded_body or not encoded_mac:
        raise BadToken("the link is incomplete (it may have been cut when copied)")
    if not (_BASE64URL.fullmatch(encoded_body) and _BASE64URL.fullmatch(encoded_mac)):
        raise BadToken("the link contains characters a real link never has")
    try:
        body, mac = _unb64(encoded_body), _unb64(encoded_mac)
    except (binascii.Error, ValueError) as exc:
        raise BadToken("the link is garbled") from exc
    # Only the canonical spelling: base64's unused low bits must not give a token twins.
    if _b64(body) != encoded_body or _b64(mac) != encoded_mac:
        raise BadToken("the link is garbled")
    if not hmac.compare_digest(mac, _mac(secret, body)):
        raise BadToken("the link's signature does not match (it was altered or is not ours)")
    named = body[16:].decode("ascii", errors="replace")
    for kind in KINDS:  # signed by us, so only a retired kind can fail to match
        if len(body) > 16 and kind == named:
            return uuid.UUID(bytes=body[:16]), kind
    raise BadToken("the link names a kind of email that no longer exists")


def url(settings: Settings, user_id: uuid.UUID, kind: Kind) -> str:
    token = make_token(settings.secret, user_id, kind)
    return f"{settings.base_url.rstrip('/')}{PATH}?t={token}"


def headers(unsubscribe_url: str) -> dict[str, str]:
    """RFC 2369 and RFC 8058 headers: mail clients show an unsubscribe button and POST to it."""
    return {
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }

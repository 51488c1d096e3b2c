"""IP addresses as keyed hashes: HMAC-SHA256 under a key derived from the app secret per UTC
day, so that a stored hash can be linked to others of the same day (rate windows, suspicion)
but neither reversed by enumerating the address space (a bare hash can be: 2^32 IPv4
addresses) nor linked across days once the day's key is gone."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

PERIOD = dt.timedelta(days=1)
_LABEL = b"apex-ip-hash:"


def period_key(secret: bytes, at: dt.datetime) -> bytes:
    """The hashing key of the UTC day holding `at`."""
    day = at.astimezone(dt.UTC).date().isoformat()
    return hmac.new(secret, _LABEL + day.encode(), hashlib.sha256).digest()


def hash_ip(secret: bytes, ip: str, at: dt.datetime | None = None) -> str:
    """The address's keyed hash for the day holding `at` (now by default), as 32 hex digits."""
    key = period_key(secret, at or dt.datetime.now(dt.UTC))
    return hmac.new(key, ip.strip().lower().encode(), hashlib.sha256).hexdigest()[:32]


class IpHasher:
    """`hash_ip` bound to a secret and caching the current day's key (the hot path calls it)."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._day: dt.date | None = None
        self._key = b""

    def __call__(self, ip: str, at: dt.datetime | None = None) -> str:
        at = at or dt.datetime.now(dt.UTC)
        day = at.astimezone(dt.UTC).date()
        if day != self._day:
            self._key, self._day = period_key(self._secret, at), day
        return hmac.new(self._key, ip.strip().lower().encode(), hashlib.sha256).hexdigest()[:32]

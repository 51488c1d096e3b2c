"""Beacon tokens: an HMAC-signed, expiring, compact encoding of what an impression is worth.

Everything a beacon counts (auction, bid, app, placement, network, price, currency, test flag) is
inside the token; a beacon's other query parameters are never trusted. Format:
base64url(msgpack payload) + "." + base64url(first 16 bytes of HMAC-SHA256).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import msgspec

from apex_mediation.accounts.crypto import derive_key

TOKEN_VERSION = 1
MAC_BYTES = 16
DEFAULT_TTL_S = 3600


class BeaconClaims(msgspec.Struct, array_like=True, frozen=True):
    """array_like: encoded as a msgpack array, which keeps URLs short."""

    version: int
    auction_id: str
    bid_id: str
    app_id: str
    placement_id: str
    network: str
    price_micros: int  # USD micros: what this impression earns
    currency: str  # the currency the bidder bid in (price_micros is already USD)
    test: bool
    expires_at: int  # unix seconds
    device_key: str = ""  # hashed device key, for frequency caps and unique-device counts
    # The auction's invalid-traffic verdict, carried to its events (signed, so not forgeable):
    # score in millionths and its reasons as a bit set (ivt/reasons.py). Trailing fields with
    # defaults: tokens issued before they existed still decode.
    ivt_ppm: int = 0
    ivt_bits: int = 0


class InvalidToken(Exception):
    pass


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(BeaconClaims)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    def __init__(self, secret: bytes, ttl_s: int = DEFAULT_TTL_S) -> None:
        self._key = derive_key(secret, "beacon-tokens/v1")
        self.ttl_s = ttl_s

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:MAC_BYTES]

    def sign(
        self,
        *,
        auction_id: str,
        bid_id: str,
        app_id: str,
        placement_id: str,
        network: str,
        price_micros: int,
        currency: str,
        test: bool,
        device_key: str = "",
        ivt_ppm: int = 0,
        ivt_bits: int = 0,
        now: float | None = None,
    ) -> str:
        expires = int(now if now is not None else time.time()) + self.ttl_s
        claims = BeaconClaims(
            TOKEN_VERSION,
            auction_id,
            bid_id,
            app_id,
            placement_id,
            network,
            price_micros,
            currency,
            test,
            expires,
            device_key,
            ivt_ppm,
            ivt_bits,
        )
        payload = _encoder.encode(claims)
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def issued_at(self, claims: BeaconClaims) -> int:
        return claims.expires_at - self.ttl_s

    def verify(self, token: str, now: float | None = None) -> BeaconClaims:
        try:
            payload_part, mac_part = token.split(".", 1)
            payload, mac = _unb64(payload_part), _unb64(mac_part)
        except ValueError as exc:
            raise InvalidToken("malformed token") from exc
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise InvalidToken("bad signature")
        try:
            claims = _decoder.decode(payload)
        except msgspec.DecodeError as exc:
            raise InvalidToken("unreadable token") from exc
        if claims.version != TOKEN_VERSION:
            raise InvalidToken("unknown token version")
        if claims.expires_at < (now if now is not None else time.time()):
            raise InvalidToken("token expired")
        return claims

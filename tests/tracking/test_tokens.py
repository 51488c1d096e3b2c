"""Beacon tokens: signed, expiring, compact; nothing is taken from outside the token."""

from __future__ import annotations

import pytest

from apex_mediation.tracking.tokens import InvalidToken, TokenSigner

SECRET = b"k" * 32


def _token(signer: TokenSigner, **overrides: object) -> str:
    fields: dict[str, object] = dict(
        auction_id="a1",
        bid_id="b1",
        app_id="app",
        placement_id="pl",
        network="openrtb",
        price_micros=1_230_000,
        currency="EUR",
        test=False,
        now=1_000,
    )
    fields.update(overrides)
    return signer.sign(**fields)  # type: ignore[arg-type]


def test_roundtrip() -> None:
    signer = TokenSigner(SECRET, ttl_s=60)
    claims = signer.verify(_token(signer), now=1_030)
    assert (claims.auction_id, claims.price_micros, claims.currency, claims.test) == (
        "a1",
        1_230_000,
        "EUR",
        False,
    )
    assert len(_token(signer)) < 200  # fits comfortably in a URL


def test_expired_tampered_and_foreign_tokens_are_refused() -> None:
    signer = TokenSigner(SECRET, ttl_s=60)
    token = _token(signer)
    with pytest.raises(InvalidToken, match="expired"):
        signer.verify(token, now=1_061)
    payload, mac = token.split(".")
    forged = _token(signer, price_micros=99_000_000).split(".")[0] + "." + mac
    with pytest.raises(InvalidToken, match="signature"):
        signer.verify(forged, now=1_000)
    with pytest.raises(InvalidToken):
        TokenSigner(b"other" * 8).verify(token, now=1_000)
    for garbage in ("", "abc", "a.b.c", payload):
        with pytest.raises(InvalidToken):
            signer.verify(garbage, now=1_000)

"""Encryption at rest (AES-256-GCM): publishers' network credentials, users' TOTP secrets.

The key is derived from the platform secret with HKDF, so rotating APEX_SECRET_KEY needs a
re-encryption pass. The associated data binds each ciphertext to its row: a ciphertext copied to
another publisher's account does not decrypt.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

FORMAT_VERSION = b"\x01"
NONCE_BYTES = 12


class DecryptionError(Exception):
    pass


@lru_cache(maxsize=8)
def derive_key(secret: bytes, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"apex-mediation", info=purpose.encode()
    ).derive(secret)


def encrypt_json(secret: bytes, value: dict[str, str], associated: str) -> bytes:
    key = derive_key(secret, "network-credentials/v1")
    nonce = os.urandom(NONCE_BYTES)
    plaintext = json.dumps(value, sort_keys=True).encode()
    return FORMAT_VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, associated.encode())


def decrypt_json(secret: bytes, blob: bytes, associated: str) -> dict[str, str]:
    if not blob.startswith(FORMAT_VERSION):
        raise DecryptionError("unknown credentials format")
    key = derive_key(secret, "network-credentials/v1")
    nonce, ciphertext = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        plaintext = AESGCM(key).decrypt(nonce, ciphertext, associated.encode())
    except InvalidTag as exc:
        raise DecryptionError("credentials do not decrypt with this key for this account") from exc
    decoded: dict[str, str] = json.loads(plaintext)
    return decoded


def encrypt_text(secret: bytes, value: str, associated: str, purpose: str) -> bytes:
    """One string under its own key (`purpose` separates keys: a ciphertext made for one use
    never decrypts as another)."""
    key = derive_key(secret, purpose)
    nonce = os.urandom(NONCE_BYTES)
    return FORMAT_VERSION + nonce + AESGCM(key).encrypt(nonce, value.encode(), associated.encode())


def decrypt_text(secret: bytes, blob: bytes, associated: str, purpose: str) -> str:
    if not blob.startswith(FORMAT_VERSION):
        raise DecryptionError("unknown ciphertext format")
    nonce, ciphertext = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        plaintext = AESGCM(derive_key(secret, purpose)).decrypt(
            nonce, ciphertext, associated.encode()
        )
    except InvalidTag as exc:
        raise DecryptionError("value does not decrypt with this key for this row") from exc
    return plaintext.decode()


def mask(value: str) -> str:
    """What the API shows of a stored secret: never more than its last 4 characters."""
    return "****" + value[-4:] if len(value) >= 12 else "****"

"""Password hashing (argon2id) and the password policy.

The policy (ASVS 2.1): at least 12 characters, at most 256, not one of the commonly used
passwords shipped in data/common_passwords.txt (nor such a password with digits or symbols
around it, or repeated), and not the account's own email address.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from apex_mediation.accounts.errors import InvalidInput

MIN_LENGTH = 12
MAX_LENGTH = 256  # bounds hashing work per request
COMMON_PASSWORDS = Path(__file__).parent / "data" / "common_passwords.txt"
_DECORATION = re.compile(r"^[\W\d_]+|[\W\d_]+$")
_REPEATED = re.compile(r"(.+?)\1+", re.DOTALL)

_hasher = PasswordHasher()
# Verifying against this when the account does not exist keeps timing the same either way.
_DUMMY_HASH = _hasher.hash("apex-timing-equaliser-password")


@cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def is_common(password: str) -> bool:
    """A listed password, or one with digits or symbols around it ("Password123!"), or one
    repeated ("qwertyqwerty"), or a short sequence repeated ("abcabcabcabc")."""
    lowered = password.lower()
    core = _DECORATION.sub("", lowered)
    repeated = _REPEATED.fullmatch(lowered)
    unit = repeated.group(1) if repeated else None
    listed = common_passwords()
    return (
        lowered in listed
        or core in listed
        or (unit is not None and (unit in listed or len(unit) <= 3))
    )


def check_policy(password: str, email: str | None = None) -> None:
    """Raise InvalidInput (field "password") when the password may not be used."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"password must be at least {MIN_LENGTH} characters", field="password")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"password must be at most {MAX_LENGTH} characters", field="password")
    if email and password.strip().lower() in {email.strip().lower(), email.split("@")[0].lower()}:
        raise InvalidInput("password must not be your email address", field="password")
    if is_common(password):
        raise InvalidInput(
            "password is too common and easy to guess: try a few unrelated words",
            field="password",
        )


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)

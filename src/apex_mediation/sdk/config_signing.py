"""Ed25519 keys that sign SDK configs (PROTOCOL.md §5).

Private keys live only in files, `<keys_dir>/<key_id>.pem` (PKCS8 PEM, mode 0600, directory
0700); the database holds public halves only. `<keys_dir>/keyring.json` lists every key with its
public half and lifetime, and names the active one. Nothing here creates a key implicitly: a
missing key file raises `SigningKeyMissing`, because a silently new key would make every
installed SDK reject the configs it receives.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

MANIFEST_NAME = "keyring.json"
MANIFEST_FORMAT = 1
_LOCK_NAME = ".keyring.lock"
# Key ids become file names, so a tampered manifest must not be able to name another path.
_KEY_ID = re.compile(r"^k[0-9a-f]{16}$")


class SigningKeyMissing(RuntimeError):
    """The signing keys cannot be used; the message says what is missing and how to fix it."""


def key_id_for(public_key: Ed25519PublicKey) -> str:
    """A short id that is stable for a public key: 'k' + 16 hex of sha256(raw key)."""
    return "k" + hashlib.sha256(_raw(public_key)).hexdigest()[:16]


@dataclass(frozen=True)
class VerifyKey:
    """The public half of a config signing key and how long clients may trust it."""

    key_id: str
    public_key: Ed25519PublicKey = field(repr=False)
    created_at: dt.datetime
    retired_at: dt.datetime | None = None
    verify_until: dt.datetime | None = None

    @property
    def raw(self) -> bytes:
        return _raw(self.public_key)

    @property
    def spki_der(self) -> bytes:
        # What Android's X509EncodedKeySpec (and the config_signing_keys table) expects.
        return self.public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def verifiable_at(self, now: dt.datetime) -> bool:
        return self.verify_until is None or self.verify_until > now

    def verify(self, data: bytes, signature_b64: str) -> bool:
        try:
            self.public_key.verify(base64.b64decode(signature_b64, validate=True), data)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class SigningKey(VerifyKey):
    """A key whose private half is loaded: only the active key is ever one of these."""

    private_key: Ed25519PrivateKey = field(repr=False, compare=False, kw_only=True)

    def sign(self, data: bytes) -> str:
        """Ed25519 signature of `data`, standard base64 with padding."""
        return base64.b64encode(self.private_key.sign(data)).decode("ascii")


@dataclass(frozen=True)
class KeyRing:
    active: SigningKey
    # Every key in the manifest, the active one included, oldest first.
    keys: tuple[VerifyKey, ...]

    def verifiable(self, now: dt.datetime) -> list[VerifyKey]:
        """Keys a client may still verify with: no verify_until, or one in the future."""
        return [key for key in self.keys if key.verifiable_at(now)]

    def get(self, key_id: str) -> VerifyKey | None:
        return next((key for key in self.keys if key.key_id == key_id), None)


def create_key(keys_dir: Path, *, now: dt.datetime | None = None) -> SigningKey:
    """Create the first signing key and the manifest naming it active.

    Refuses when a manifest already exists: replacing the active key is `rotate`'s job, which
    keeps the old key verifiable for a grace period.
    """
    keys_dir = Path(keys_dir)
    _ensure_dir(keys_dir)
    with _locked(keys_dir):
        manifest = keys_dir / MANIFEST_NAME
        if manifest.exists():
            raise FileExistsError(
                f"{manifest} already exists; use rotate() to replace the active signing key"
            )
        key = _new_key_file(keys_dir, _now(now))
        _write_manifest(keys_dir, key.key_id, [key])
    return key


def rotate(keys_dir: Path, grace: dt.timedelta, *, now: dt.datetime | None = None) -> SigningKey:
    """Make a new active key; the previous one stays verifiable until now + grace."""
    if grace < dt.timedelta(0):
        raise ValueError("grace must not be negative")
    keys_dir = Path(keys_dir)
    at = _now(now)
    with _locked(keys_dir):
        ring = load_keyring(keys_dir)
        new = _new_key_file(keys_dir, at)
        retired = VerifyKey(
            key_id=ring.active.key_id,
            public_key=ring.active.public_key,
            created_at=ring.active.created_at,
            retired_at=at,
            verify_until=at + grace,
        )
        keys = [retired if k.key_id == retired.key_id else k for k in ring.keys]
        _write_manifest(keys_dir, new.key_id, [*keys, new])
    return new


def load_keyring(keys_dir: Path) -> KeyRing:
    """Read the manifest and the active private key; raise SigningKeyMissing if either is gone."""
    keys_dir = Path(keys_dir)
    if not keys_dir.is_dir():
        raise SigningKeyMissing(
            f"config signing key directory {keys_dir} does not exist; create the first key "
            "with create_key() (restore it from backup if keys existed before)"
        )
    manifest_path = keys_dir / MANIFEST_NAME
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SigningKeyMissing(
            f"{manifest_path} is missing; restore it from backup, or create_key() for a new ring"
        ) from exc
    except (OSError, ValueError) as exc:
        raise SigningKeyMissing(f"{manifest_path} is unreadable: {exc}") from exc
    try:
        active_id, entries = _parse_manifest(manifest)
    except (KeyError, TypeError, ValueError) as exc:
        raise SigningKeyMissing(f"{manifest_path} is malformed: {exc}") from exc

    active_entry = next((e for e in entries if e.key_id == active_id), None)
    if active_entry is None:
        raise SigningKeyMissing(f"{manifest_path} names active key {active_id} but lacks it")
    private = _read_private_key(keys_dir / f"{active_id}.pem")
    if _raw(private.public_key()) != active_entry.raw:
        raise SigningKeyMissing(
            f"{keys_dir / f'{active_id}.pem'} does not hold the public key the manifest lists"
        )
    active = SigningKey(
        key_id=active_entry.key_id,
        public_key=active_entry.public_key,
        created_at=active_entry.created_at,
        retired_at=active_entry.retired_at,
        verify_until=active_entry.verify_until,
        private_key=private,
    )
    keys = tuple(active if e.key_id == active_id else e for e in entries)
    return KeyRing(active=active, keys=keys)


def public_keys_document(ring: KeyRing, now: dt.datetime) -> dict[str, Any]:
    """The body of `GET /v1/config/keys`: every key a client may still verify with."""
    return {
        "keys": {
            key.key_id: {
                "spki": base64.b64encode(key.spki_der).decode("ascii"),
                "raw": base64.b64encode(key.raw).decode("ascii"),
                "status": "active" if key.key_id == ring.active.key_id else "retired",
                "verifyUntil": _iso(key.verify_until),
            }
            for key in ring.verifiable(now)
        },
        "active": ring.active.key_id,
    }


def public_key_rows(ring: KeyRing) -> list[dict[str, Any]]:
    """Rows to upsert into `config_signing_keys` (by key_id); the caller writes them."""
    return [
        {
            "key_id": key.key_id,
            "public_key_der": key.spki_der,
            "created_at": key.created_at,
            "retired_at": key.retired_at,
            "verify_until": key.verify_until,
        }
        for key in ring.keys
    ]


# -- files --------------------------------------------------------------------------------------


def _new_key_file(keys_dir: Path, created_at: dt.datetime) -> SigningKey:
    private = Ed25519PrivateKey.generate()
    public = private.public_key()
    key_id = key_id_for(public)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    final = keys_dir / f"{key_id}.pem"
    # Written in full to a private temporary name, then linked: link() is atomic and fails if
    # the name exists (O_EXCL semantics), so no reader ever sees a half-written key file.
    tmp = keys_dir / f".{key_id}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(keys_dir)
    return SigningKey(key_id=key_id, public_key=public, created_at=created_at, private_key=private)


def _read_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise SigningKeyMissing(
            f"active config signing key file {path} is missing; restore it from backup. "
            "A new key would make installed SDKs reject configs until they fetch the new key."
        ) from exc
    except OSError as exc:
        raise SigningKeyMissing(f"config signing key file {path} is unreadable: {exc}") from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyMissing(f"{path} is not an unencrypted PKCS8 PEM key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyMissing(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def _write_manifest(keys_dir: Path, active_id: str, keys: list[VerifyKey]) -> None:
    document = {
        "format": MANIFEST_FORMAT,
        "active": active_id,
        "keys": [
            {
                "key_id": key.key_id,
                "public_key": base64.b64encode(key.raw).decode("ascii"),
                "created_at": _iso(key.created_at),
                "retired_at": _iso(key.retired_at),
                "verify_until": _iso(key.verify_until),
            }
            for key in keys
        ],
    }
    tmp = keys_dir / f".{MANIFEST_NAME}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        # Readers see the old manifest or the new one, never a mix.
        os.replace(tmp, keys_dir / MANIFEST_NAME)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(keys_dir)


def _parse_manifest(manifest: Any) -> tuple[str, list[VerifyKey]]:
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"expected an object with format {MANIFEST_FORMAT}")
    active_id = _checked_key_id(manifest["active"])
    entries: list[VerifyKey] = []
    for item in manifest["keys"]:
        key_id = _checked_key_id(item["key_id"])
        raw = base64.b64decode(item["public_key"], validate=True)
        public = Ed25519PublicKey.from_public_bytes(raw)
        if key_id_for(public) != key_id:
            raise ValueError(f"key {key_id} does not match its public key")
        entries.append(
            VerifyKey(
                key_id=key_id,
                public_key=public,
                created_at=_parse_time(item["created_at"]),
                retired_at=_parse_optional_time(item.get("retired_at")),
                verify_until=_parse_optional_time(item.get("verify_until")),
            )
        )
    return active_id, entries


def _ensure_dir(keys_dir: Path) -> None:
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkdir's mode is filtered by the umask and ignored for an existing directory.
    os.chmod(keys_dir, 0o700)


@contextlib.contextmanager
def _locked(keys_dir: Path) -> Iterator[None]:
    """Serialise writers (two operators rotating at once would each retire the same key)."""
    if not keys_dir.is_dir():
        raise SigningKeyMissing(f"config signing key directory {keys_dir} does not exist")
    fd = os.open(keys_dir / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- values -------------------------------------------------------------------------------------


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _checked_key_id(value: Any) -> str:
    if not isinstance(value, str) or not _KEY_ID.match(value):
        raise ValueError(f"invalid key id {value!r}")
    return value


def _now(now: dt.datetime | None) -> dt.datetime:
    # Whole seconds: the manifest stores seconds, so what rotate returns equals what load reads.
    value = dt.datetime.now(dt.UTC) if now is None else now
    if value.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return value.astimezone(dt.UTC).replace(microsecond=0)


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse_time(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO time, got {value!r}")
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"time {value!r} has no UTC offset")
    return parsed.astimezone(dt.UTC)


def _parse_optional_time(value: Any) -> dt.datetime | None:
    return None if value is None else _parse_time(value)

from __future__ import annotations

import base64
import datetime as dt
import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from apex_mediation.sdk.config_signing import (
    MANIFEST_NAME,
    SigningKeyMissing,
    create_key,
    key_id_for,
    load_keyring,
    public_key_rows,
    public_keys_document,
    rotate,
)

T0 = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
GRACE = dt.timedelta(days=7)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _pem_files(keys_dir: Path) -> set[str]:
    return {p.name for p in keys_dir.glob("*.pem")}


def test_create_then_load_gives_the_same_active_key(tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    key = create_key(keys_dir, now=T0)

    ring = load_keyring(keys_dir)

    assert ring.active.key_id == key.key_id
    assert ring.active.raw == key.raw
    assert ring.active.created_at == T0
    assert [k.key_id for k in ring.keys] == [key.key_id]
    assert key.key_id == key_id_for(key.public_key)
    assert key.key_id.startswith("k") and len(key.key_id) == 17


def test_key_files_are_private(tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    key = create_key(keys_dir)

    assert _mode(keys_dir) == 0o700
    assert _mode(keys_dir / f"{key.key_id}.pem") == 0o600
    assert _mode(keys_dir / MANIFEST_NAME) == 0o600
    pem = (keys_dir / f"{key.key_id}.pem").read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS8, unencrypted
    # No temporary files are left behind.
    assert not [p for p in keys_dir.iterdir() if p.name.endswith(".tmp")]


def test_the_private_key_never_appears_in_the_manifest_or_rows(tmp_path: Path) -> None:
    key = create_key(tmp_path)
    private_raw = key.private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    manifest = (tmp_path / MANIFEST_NAME).read_bytes()
    assert base64.b64encode(private_raw) not in manifest
    assert "private" not in repr(key).lower()
    rows = public_key_rows(load_keyring(tmp_path))
    assert all(private_raw not in row["public_key_der"] for row in rows)


def test_create_refuses_to_replace_an_existing_ring(tmp_path: Path) -> None:
    create_key(tmp_path)
    with pytest.raises(FileExistsError, match="rotate"):
        create_key(tmp_path)


def test_signatures_verify_with_the_public_key(tmp_path: Path) -> None:
    key = create_key(tmp_path)
    signature = key.sign(b"hello")

    assert len(base64.b64decode(signature, validate=True)) == 64
    key.public_key.verify(base64.b64decode(signature), b"hello")
    assert key.verify(b"hello", signature)
    assert not key.verify(b"hellO", signature)
    assert not key.verify(b"hello", "not base64!")


@pytest.mark.parametrize(
    "breakage",
    ["no_dir", "no_manifest", "bad_manifest", "no_key_file", "garbage_key_file", "swapped_key"],
)
def test_load_raises_and_never_creates_a_key(tmp_path: Path, breakage: str) -> None:
    keys_dir = tmp_path / "keys"
    if breakage == "no_dir":
        keys_dir = tmp_path / "absent"
    else:
        key = create_key(keys_dir)
        pem = keys_dir / f"{key.key_id}.pem"
        if breakage == "no_manifest":
            (keys_dir / MANIFEST_NAME).unlink()
        elif breakage == "bad_manifest":
            (keys_dir / MANIFEST_NAME).write_text("{not json")
        elif breakage == "no_key_file":
            pem.unlink()
        elif breakage == "garbage_key_file":
            pem.write_text("not a key")
        elif breakage == "swapped_key":
            other = create_key(tmp_path / "other")
            pem.write_bytes((tmp_path / "other" / f"{other.key_id}.pem").read_bytes())
    before = _pem_files(keys_dir) if keys_dir.exists() else set()

    with pytest.raises(SigningKeyMissing) as raised:
        load_keyring(keys_dir)

    assert str(keys_dir) in str(raised.value)
    assert (_pem_files(keys_dir) if keys_dir.exists() else set()) == before
    assert keys_dir.exists() == (breakage != "no_dir")


def test_missing_key_file_message_says_to_restore(tmp_path: Path) -> None:
    key = create_key(tmp_path)
    (tmp_path / f"{key.key_id}.pem").unlink()
    with pytest.raises(SigningKeyMissing, match="missing; restore it from backup"):
        load_keyring(tmp_path)


def test_manifest_cannot_point_outside_the_directory(tmp_path: Path) -> None:
    create_key(tmp_path)
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())
    manifest["active"] = "../../etc/passwd"
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(SigningKeyMissing, match="malformed"):
        load_keyring(tmp_path)


def test_rotate_without_a_ring_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SigningKeyMissing):
        rotate(tmp_path / "absent", GRACE)
    with pytest.raises(SigningKeyMissing):
        rotate(tmp_path, GRACE)  # directory exists, manifest does not
    assert _pem_files(tmp_path) == set()


def test_rotate_retires_the_old_key_with_a_grace_period(tmp_path: Path) -> None:
    old = create_key(tmp_path, now=T0)
    t1 = T0 + dt.timedelta(days=30)

    new = rotate(tmp_path, GRACE, now=t1)
    ring = load_keyring(tmp_path)

    assert ring.active.key_id == new.key_id != old.key_id
    assert ring.active.created_at == t1
    retired = ring.get(old.key_id)
    assert retired is not None
    assert retired.retired_at == t1
    assert retired.verify_until == t1 + GRACE
    assert retired.raw == old.raw
    # The old private key file stays: deleting it is an operator's decision.
    assert _pem_files(tmp_path) == {f"{old.key_id}.pem", f"{new.key_id}.pem"}


def test_retired_key_is_verifiable_within_grace_then_dropped(tmp_path: Path) -> None:
    old = create_key(tmp_path, now=T0)
    new = rotate(tmp_path, GRACE, now=T0)
    ring = load_keyring(tmp_path)

    within = T0 + GRACE - dt.timedelta(seconds=1)
    assert [k.key_id for k in ring.verifiable(within)] == [old.key_id, new.key_id]
    doc = public_keys_document(ring, within)
    assert doc["active"] == new.key_id
    assert doc["keys"][old.key_id]["status"] == "retired"
    assert doc["keys"][old.key_id]["verifyUntil"] == "2025-03-08T12:00:00Z"
    assert doc["keys"][new.key_id] == {
        "spki": doc["keys"][new.key_id]["spki"],
        "raw": doc["keys"][new.key_id]["raw"],
        "status": "active",
        "verifyUntil": None,
    }

    after = T0 + GRACE
    assert [k.key_id for k in ring.verifiable(after)] == [new.key_id]
    assert set(public_keys_document(ring, after)["keys"]) == {new.key_id}
    # Still in the rows: the database keeps history for app_config_versions' foreign key.
    assert {row["key_id"] for row in public_key_rows(ring)} == {old.key_id, new.key_id}


def test_two_rotations_keep_each_grace(tmp_path: Path) -> None:
    first = create_key(tmp_path, now=T0)
    second = rotate(tmp_path, GRACE, now=T0 + dt.timedelta(days=1))
    third = rotate(tmp_path, dt.timedelta(days=1), now=T0 + dt.timedelta(days=2))
    ring = load_keyring(tmp_path)

    assert [k.key_id for k in ring.keys] == [first.key_id, second.key_id, third.key_id]
    at = T0 + dt.timedelta(days=5)
    assert [k.key_id for k in ring.verifiable(at)] == [first.key_id, third.key_id]


def test_negative_grace_is_refused(tmp_path: Path) -> None:
    create_key(tmp_path)
    with pytest.raises(ValueError, match="grace"):
        rotate(tmp_path, -GRACE)


def test_keys_document_spki_and_raw_decode_to_the_same_public_key(tmp_path: Path) -> None:
    key = create_key(tmp_path)
    entry = public_keys_document(load_keyring(tmp_path), T0)["keys"][key.key_id]

    spki = base64.b64decode(entry["spki"], validate=True)
    from_spki = serialization.load_der_public_key(spki)
    assert isinstance(from_spki, Ed25519PublicKey)
    raw = from_spki.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert raw == base64.b64decode(entry["raw"], validate=True) == key.raw
    # Ed25519 SPKI is a fixed 12-byte header (OID 1.3.101.112) then the raw key.
    assert spki == bytes.fromhex("302a300506032b6570032100") + raw
    from_spki.verify(base64.b64decode(key.sign(b"x")), b"x")


def test_public_key_rows_match_the_table(tmp_path: Path) -> None:
    old = create_key(tmp_path, now=T0)
    rotate(tmp_path, GRACE, now=T0)
    rows = public_key_rows(load_keyring(tmp_path))

    assert set(rows[0]) == {"key_id", "public_key_der", "created_at", "retired_at", "verify_until"}
    assert rows[0]["key_id"] == old.key_id
    assert rows[0]["public_key_der"] == old.spki_der
    assert rows[0]["created_at"] == T0
    assert rows[0]["retired_at"] == T0
    assert rows[0]["verify_until"] == T0 + GRACE
    assert rows[1]["retired_at"] is None and rows[1]["verify_until"] is None

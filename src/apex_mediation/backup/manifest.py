"""The manifest: what a backup holds, each file's SHA-256, and each table's row count and row
checksum (computed the same way before the backup and after a restore)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

NAME = "manifest.json"
FORMAT = 1


@dataclass(frozen=True)
class TableSum:
    rows: int
    checksum: str


@dataclass
class Manifest:
    created_at: str
    app_version: str
    postgres_revision: str | None
    clickhouse_migrations: list[str]
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256
    postgres: dict[str, TableSum] = field(default_factory=dict)
    clickhouse: dict[str, TableSum] = field(default_factory=dict)
    format: int = FORMAT

    def write(self, directory: Path) -> None:
        (directory / NAME).write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = directory / NAME
        try:
            raw: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError:
            raise BackupError(f"{path} is missing: not a backup directory") from None
        except ValueError as exc:
            raise BackupError(f"{path} is not valid JSON: {exc}") from None
        if raw.get("format") != FORMAT:
            raise BackupError(f"{path}: unknown manifest format {raw.get('format')!r}")
        sums = {
            k: {t: TableSum(**v) for t, v in raw[k].items()} for k in ("postgres", "clickhouse")
        }
        return cls(**{**raw, **sums})


class BackupError(Exception):
    """A backup or restore that cannot go on: the message says why."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_files(directory: Path, manifest: Manifest) -> None:
    for name, expected in manifest.files.items():
        path = directory / name
        if not path.is_file():
            raise BackupError(f"{name} is listed in the manifest but missing")
        if sha256(path) != expected:
            raise BackupError(f"{name} does not match its checksum: the backup is damaged")


def differences(label: str, expected: dict[str, TableSum], found: dict[str, TableSum]) -> list[str]:
    problems = []
    for table in sorted(expected.keys() | found.keys()):
        want, got = expected.get(table), found.get(table)
        if want != got:
            problems.append(f"{label}.{table}: expected {want}, found {got}")
    return problems

"""The audit log writer: every sensitive action calls `record` inside its own transaction.

Rows are append-only (a trigger refuses UPDATE/DELETE/TRUNCATE). Before and after states are
stored as digests, not values, so secrets and personal data never land in the log; `details`
holds only non-sensitive facts such as the names of the fields that changed.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts.identity import Actor
from apex_mediation.accounts.network_ip import truncate_ip
from apex_mediation.db.models import AuditLog


def digest(state: Mapping[str, Any] | None) -> str | None:
    if state is None:
        return None
    canonical = json.dumps(state, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def changed_fields(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[str]:
    before, after = before or {}, after or {}
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


async def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | uuid.UUID | None = None,
    *,
    publisher_id: uuid.UUID | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Add an audit row to the caller's transaction (it commits with the action or not at all)."""
    facts = dict(details or {})
    if before is not None and after is not None:
        facts.setdefault("changed", changed_fields(before, after))
    session.add(
        AuditLog(
            actor_type=actor.kind,
            actor_id=actor.id,
            publisher_id=publisher_id if publisher_id is not None else actor.publisher_id,
            action=action,
            object_type=object_type,
            object_id=str(object_id) if object_id is not None else None,
            ip_prefix=truncate_ip(actor.ip),
            before_digest=digest(before),
            after_digest=digest(after),
            details=facts,
        )
    )

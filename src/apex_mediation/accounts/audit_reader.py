"""Reading the audit log: a publisher's owners see their publisher's entries, platform
operators see everyone's.

An entry is shown as who did what to which object, when, from which network (the stored /24 or
/48 prefix) and the non-sensitive `details`. The before and after digests are left out on
purpose: they are hashes for tamper evidence, and shown beside the other columns they would read
as values.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts.errors import InvalidInput, PermissionDenied
from apex_mediation.accounts.identity import Actor
from apex_mediation.db.models import ApiKey, AuditLog, User
from apex_mediation.inventory.pagination import Page

MAX_EXPORT_ROWS = 100_000
# An action (`app.created`) or a family of actions (`app`, which also matches `app.*`).
ACTION_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$"
_ACTION = re.compile(ACTION_PATTERN)


@dataclass(frozen=True)
class AuditQuery:
    """Filters; `publisher_id` None means every publisher (operators only)."""

    publisher_id: uuid.UUID | None
    start: dt.date | None = None
    end: dt.date | None = None  # inclusive
    action: str | None = None


@dataclass(frozen=True)
class Entry:
    id: int
    occurred_at: dt.datetime
    publisher_id: uuid.UUID | None
    actor_type: str
    actor_id: str | None
    actor: str  # readable: a user's email, an API key's name and prefix, or "system"
    action: str
    object_type: str
    object_id: str | None
    ip_prefix: str | None
    details: dict[str, Any]


def publisher_query(
    actor: Actor,
    start: dt.date | None = None,
    end: dt.date | None = None,
    action: str | None = None,
) -> AuditQuery:
    """The acting publisher's log: its owners, or a platform operator acting on its behalf."""
    publisher_id = actor.tenant()
    if not actor.is_platform_operator:
        actor.require_role("owner")
    return _checked(AuditQuery(publisher_id, start, end, action))


def platform_query(
    actor: Actor,
    publisher_id: uuid.UUID | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    action: str | None = None,
) -> AuditQuery:
    """Any publisher's log, or all of it: platform operators only."""
    if not actor.is_platform_operator:
        raise PermissionDenied("the platform audit log is for platform operators")
    return _checked(AuditQuery(publisher_id, start, end, action))


def _checked(query: AuditQuery) -> AuditQuery:
    if query.start and query.end and query.end < query.start:
        raise InvalidInput("endDate is before startDate", field="endDate")
    if query.action is not None and not _ACTION.fullmatch(query.action):
        raise InvalidInput("an action such as app.created, or a family such as app", field="action")
    return query


def _utc_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def _select(query: AuditQuery) -> Select[AuditLog]:
    statement = select(AuditLog)
    if query.publisher_id is not None:
        statement = statement.where(AuditLog.publisher_id == query.publisher_id)
    if query.start is not None:
        statement = statement.where(AuditLog.occurred_at >= _utc_midnight(query.start))
    if query.end is not None and query.end < dt.date.max:  # the last date has no next day
        next_day = query.end + dt.timedelta(days=1)
        statement = statement.where(AuditLog.occurred_at < _utc_midnight(next_day))
    if query.action is not None:
        family = query.action.replace("_", r"\_") + ".%"
        statement = statement.where(
            (AuditLog.action == query.action) | AuditLog.action.like(family, escape="\\")
        )
    return statement.order_by(AuditLog.occurred_at.desc(), AuditLog.id.desc())


async def search(
    session: AsyncSession, query: AuditQuery, page: int, page_size: int
) -> Page[Entry]:
    statement = _select(query)
    total = await session.scalar(
        select(func.count()).select_from(statement.order_by(None).subquery())
    )
    rows = list(await session.scalars(statement.limit(page_size).offset((page - 1) * page_size)))
    return Page(await _entries(session, rows), page, page_size, int(total or 0))


async def export(session: AsyncSession, query: AuditQuery) -> list[Entry]:
    """Every matching entry, newest first; a query that matches too many is refused."""
    statement = _select(query)
    rows = list(await session.scalars(statement.limit(MAX_EXPORT_ROWS + 1)))
    if len(rows) > MAX_EXPORT_ROWS:
        raise InvalidInput(
            f"more than {MAX_EXPORT_ROWS:,} entries match; narrow the dates", field="startDate"
        )
    return await _entries(session, rows)


async def _entries(session: AsyncSession, rows: list[AuditLog]) -> list[Entry]:
    labels = await _actor_labels(session, rows)
    return [
        Entry(
            id=row.id,
            occurred_at=row.occurred_at,
            publisher_id=row.publisher_id,
            actor_type=row.actor_type,
            actor_id=row.actor_id,
            actor=labels.get((row.actor_type, row.actor_id or ""), row.actor_type),
            action=row.action,
            object_type=row.object_type,
            object_id=row.object_id,
            ip_prefix=row.ip_prefix,
            details=dict(row.details or {}),
        )
        for row in rows
    ]


def _uuids(values: set[str]) -> list[uuid.UUID]:
    found = []
    for value in values:
        try:
            found.append(uuid.UUID(value))
        except ValueError:
            continue
    return found


async def _actor_labels(session: AsyncSession, rows: list[AuditLog]) -> dict[tuple[str, str], str]:
    """Readable names of the actors on one page, in two queries whatever the page size."""
    user_ids = _uuids({r.actor_id for r in rows if r.actor_type == "user" and r.actor_id})
    key_ids = _uuids({r.actor_id for r in rows if r.actor_type == "api_key" and r.actor_id})
    labels: dict[tuple[str, str], str] = {}
    if user_ids:
        users = await session.execute(select(User.id, User.email).where(User.id.in_(user_ids)))
        labels.update((("user", str(i)), email) for i, email in users.all())
    if key_ids:
        keys = await session.execute(
            select(ApiKey.id, ApiKey.name, ApiKey.prefix).where(ApiKey.id.in_(key_ids))
        )
        labels.update(
            (("api_key", str(i)), f"API key {name} ({prefix}…)") for i, name, prefix in keys.all()
        )
    return labels

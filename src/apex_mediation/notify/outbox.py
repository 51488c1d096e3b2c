"""The durable notification outbox: messages are rendered when queued and stored in the caller's
transaction, so they leave only if its work commits; `dispatch` sends them. A message that keeps
failing ends in the dead letter (status 'dead'), where the operator can read and requeue it.

Queue with `enqueue_email`, `enqueue_slack` or `notify_publisher`; run `dispatcher_loop`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import notifications
from apex_mediation.db.models import (
    NOTIFY_CATEGORIES,
    Membership,
    NotificationOutbox,
    NotificationPreference,
    User,
)
from apex_mediation.notify import slack, unsubscribe
from apex_mediation.notify.dispatch import (
    DispatchCounts,
    backoff,
    dispatch_due,
    dispatcher_loop,
    pending_count,
    preference_for,
)
from apex_mediation.notify.templates import render
from apex_mediation.settings import Settings

__all__ = [
    "DeadMessage",
    "DispatchCounts",
    "backoff",
    "dispatch_due",
    "dispatcher_loop",
    "enqueue_email",
    "enqueue_slack",
    "list_dead",
    "notify_publisher",
    "pending_count",
    "requeue_dead",
]


@dataclass(frozen=True)
class DeadMessage:
    id: uuid.UUID
    channel: str
    category: str
    template: str
    recipient: str
    attempts: int
    last_error: str | None
    created_at: dt.datetime
    dead_at: dt.datetime | None


def _category(category: str) -> str:
    if category not in NOTIFY_CATEGORIES:
        raise ValueError(f"unknown category {category!r}; known: {', '.join(NOTIFY_CATEGORIES)}")
    return category


async def _insert(session: AsyncSession, values: Mapping[str, Any]) -> uuid.UUID | None:
    statement = (
        insert(NotificationOutbox)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[NotificationOutbox.dedupe_key])
        .returning(NotificationOutbox.id)
    )
    queued: uuid.UUID | None = await session.scalar(statement)
    return queued


async def enqueue_email(
    session: AsyncSession,
    settings: Settings,
    *,
    template: str,
    context: Mapping[str, Any],
    category: str,
    to: str,
    user_id: uuid.UUID | None = None,
    publisher_id: uuid.UUID | None = None,
    transactional: bool = False,
    dedupe_key: str | None = None,
) -> uuid.UUID | None:
    """Render `template` now and queue it; None when `dedupe_key` was already queued.

    'account' mail (password resets, invitations) is always transactional. A non-transactional
    email to a user ends with a signed unsubscribe link and is checked against the user's
    preference again when sent."""
    transactional = transactional or _category(category) == "account"
    if "@" not in to or to != " ".join(to.split()):
        raise ValueError(f"not an email address: {to!r}")
    kind = preference_for(category)
    link = None
    if not transactional and user_id is not None and kind is not None:
        link = unsubscribe.url(settings, user_id, kind)
    rendered = render(template, context, unsubscribe_url=link)
    return await _insert(
        session,
        {
            "channel": "email",
            "category": category,
            "transactional": transactional,
            "template": template,
            "recipient": to,
            "user_id": user_id,
            "publisher_id": publisher_id,
            "subject": rendered.subject,
            "body_text": rendered.text,
            "body_html": rendered.html,
            "dedupe_key": dedupe_key,
            "max_attempts": settings.outbox_max_attempts,
        },
    )


async def enqueue_slack(
    session: AsyncSession,
    settings: Settings,
    *,
    template: str,
    context: Mapping[str, Any],
    category: str = "alerts",
    target: str = "operator",
    dedupe_key: str | None = None,
) -> uuid.UUID | None:
    """Queue a Slack message to `target` (see slack.TARGETS) from the subject and text files of
    `template`; None when `dedupe_key` was already queued."""
    slack.webhook_for(settings, target)  # an unknown target is the caller's bug: fail now
    rendered = render(template, context)
    return await _insert(
        session,
        {
            "channel": "slack",
            "category": _category(category),
            "transactional": True,  # an operator channel: no preference applies
            "template": template,
            "recipient": target,
            "subject": rendered.subject,
            "body_text": rendered.text,
            "dedupe_key": dedupe_key,
            "max_attempts": settings.outbox_max_attempts,
        },
    )


async def notify_publisher(
    session: AsyncSession,
    settings: Settings,
    publisher_id: uuid.UUID,
    *,
    template: str,
    context: Mapping[str, Any],
    category: str,
    transactional: bool = False,
    dedupe_key: str | None = None,
    roles: Sequence[str] = ("owner", "admin"),
) -> list[uuid.UUID]:
    """One email per member of the publisher with one of `roles`, skipping (unless
    transactional) members who turned the category off. The template also gets
    `recipient_name`. Returns the ids queued (none for recipients already queued under
    f"{dedupe_key}:{user_id}")."""
    kind = preference_for(_category(category))
    statement = (
        select(User.id, User.email, User.display_name, NotificationPreference)
        .join(Membership, Membership.user_id == User.id)
        .outerjoin(NotificationPreference, NotificationPreference.user_id == User.id)
        .where(Membership.publisher_id == publisher_id, Membership.role.in_(roles))
        .order_by(User.email)
    )
    revoked_at = getattr(Membership, "revoked_at", None)  # memberships may gain a soft delete
    if revoked_at is not None:
        statement = statement.where(revoked_at.is_(None))
    check = kind is not None and not transactional
    default = bool(getattr(notifications.Preferences(), kind)) if kind else True  # no row yet
    queued: list[uuid.UUID] = []
    for user_id, email, name, preference in (await session.execute(statement)).all():
        if check and not (getattr(preference, str(kind)) if preference else default):
            continue
        queued_id = await enqueue_email(
            session,
            settings,
            template=template,
            context={"recipient_name": name or email, **context},
            category=category,
            to=email,
            user_id=user_id,
            publisher_id=publisher_id,
            transactional=transactional,
            dedupe_key=f"{dedupe_key}:{user_id}" if dedupe_key else None,
        )
        if queued_id is not None:
            queued.append(queued_id)
    return queued


async def list_dead(session: AsyncSession, limit: int = 100) -> list[DeadMessage]:
    rows = await session.scalars(
        select(NotificationOutbox)
        .where(NotificationOutbox.status == "dead")
        .order_by(NotificationOutbox.dead_at.desc())
        .limit(limit)
    )
    return [
        DeadMessage(
            id=row.id,
            channel=row.channel,
            category=row.category,
            template=row.template,
            recipient=row.recipient,
            attempts=row.attempts,
            last_error=row.last_error,
            created_at=row.created_at,
            dead_at=row.dead_at,
        )
        for row in rows
    ]


async def requeue_dead(session: AsyncSession, ids: Collection[uuid.UUID] | Literal["all"]) -> int:
    """Give dead messages a fresh set of attempts, due now; returns how many were requeued.
    The last error stays until the next attempt replaces it."""
    statement = update(NotificationOutbox).where(NotificationOutbox.status == "dead")
    if ids != "all":
        statement = statement.where(NotificationOutbox.id.in_(list(ids)))
    result = await session.execute(
        statement.values(status="pending", attempts=0, next_attempt_at=func.now(), dead_at=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)

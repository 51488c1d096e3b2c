"""Which emails each user wants: weekly reports, alerts, payout and billing notices, product
news, marketing. Preferences belong to the user (not to a publisher); a user without a row gets
the defaults, and senders ask `wants` before mailing (the outbox asks again when it sends)."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import audit
from apex_mediation.accounts.errors import NotFound, PermissionDenied
from apex_mediation.accounts.identity import Actor
from apex_mediation.db.models import NotificationPreference, User

Kind = Literal["weekly_report", "alerts", "billing", "product", "marketing"]
KINDS: tuple[Kind, ...] = ("weekly_report", "alerts", "billing", "product", "marketing")


@dataclass(frozen=True)
class Preferences:
    weekly_report: bool = True
    alerts: bool = True
    billing: bool = True
    product: bool = True  # trial onboarding tips and product news; opt-out
    marketing: bool = False  # opt-in only

    def as_dict(self) -> dict[str, bool]:
        return dataclasses.asdict(self)


async def get_preferences(session: AsyncSession, user_id: uuid.UUID) -> Preferences:
    row = await session.scalar(
        select(NotificationPreference)
        .where(NotificationPreference.user_id == user_id)
        .execution_options(populate_existing=True)
    )
    if row is None:
        return Preferences()
    return Preferences(**{kind: bool(getattr(row, kind)) for kind in KINDS})


async def wants(session: AsyncSession, user_id: uuid.UUID, kind: Kind) -> bool:
    value: bool = getattr(await get_preferences(session, user_id), kind)
    return value


def _own_user(actor: Actor) -> uuid.UUID:
    if actor.kind != "user" or not actor.id:
        raise PermissionDenied("notification preferences belong to a console user")
    return uuid.UUID(actor.id)


async def save_preferences(session: AsyncSession, actor: Actor, chosen: Preferences) -> Preferences:
    """Store the acting user's own preferences (nobody edits another user's)."""
    return await _store(session, actor, _own_user(actor), chosen.as_dict())


async def unsubscribe(
    session: AsyncSession, user_id: uuid.UUID, kind: Kind, *, ip: str | None = None
) -> Preferences:
    """Turn one kind off from a signed unsubscribe link: the link proves the user, so the
    audit row names them as the actor. Raises NotFound when the account no longer exists."""
    if await session.get(User, user_id) is None:
        raise NotFound("this account no longer exists")
    actor = Actor(kind="user", id=str(user_id), publisher_id=None, ip=ip)
    # Only this column: a settings form saved meanwhile keeps its other choices.
    return await _store(session, actor, user_id, {kind: False}, via="unsubscribe_link")


async def _store(
    session: AsyncSession,
    actor: Actor,
    user_id: uuid.UUID,
    values: dict[str, bool],
    via: str | None = None,
) -> Preferences:
    before = await get_preferences(session, user_id)
    chosen = dataclasses.replace(before, **values)
    statement = insert(NotificationPreference).values(user_id=user_id, **values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[NotificationPreference.user_id],
            set_={**values, "updated_at": func.now()},
        )
    )
    if before != chosen:
        await audit.record(
            session,
            actor,
            "notifications.updated",
            "user",
            user_id,
            before=before.as_dict(),
            after=chosen.as_dict(),
            details={"via": via} if via else None,
        )
    return chosen

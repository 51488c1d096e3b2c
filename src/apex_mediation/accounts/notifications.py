"""Which emails each user wants: weekly reports, alerts, payout and billing notices, product
news. Preferences belong to the user (not to a publisher); a user without a row gets the
defaults, and senders ask `wants` before mailing."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import audit
from apex_mediation.accounts.errors import PermissionDenied
from apex_mediation.accounts.identity import Actor
from apex_mediation.db.models import NotificationPreference

Kind = Literal["weekly_report", "alerts", "billing", "product"]
KINDS: tuple[Kind, ...] = ("weekly_report", "alerts", "billing", "product")


@dataclass(frozen=True)
class Preferences:
    weekly_report: bool = True
    alerts: bool = True
    billing: bool = True
    product: bool = False

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
    user_id = _own_user(actor)
    before = await get_preferences(session, user_id)
    values = chosen.as_dict()
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
            after=values,
        )
    return chosen

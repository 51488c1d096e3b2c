"""A publisher's team: its members and their roles.

Admins and owners manage the team, never above their own rank: an admin cannot grant the owner
role or touch an owner. A publisher always keeps at least one owner: a change locks the
publisher's memberships (always in the same order), so two owners demoting each other at once
queue up and the second is refused.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import audit, sessions
from apex_mediation.accounts.errors import Conflict, NotFound, PermissionDenied
from apex_mediation.accounts.identity import ROLE_RANK, Actor
from apex_mediation.accounts.publishers import check_role
from apex_mediation.db.models import Membership, User


@dataclass(frozen=True)
class Member:
    user_id: uuid.UUID
    email: str
    role: str
    joined_at: dt.datetime
    last_login_at: dt.datetime | None


async def list_members(session: AsyncSession, actor: Actor) -> list[Member]:
    """Everyone in the actor's publisher, owners first; any member may see the team."""
    actor.require_role("read_only")
    rows = await session.execute(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.publisher_id == actor.tenant())
        .order_by(Membership.created_at, User.email)
    )
    members = [
        Member(user.id, user.email, membership.role, membership.created_at, user.last_login_at)
        for user, membership in rows.all()
    ]
    return sorted(members, key=lambda m: -ROLE_RANK[m.role])


def check_may_grant(actor: Actor, role: str) -> None:
    if ROLE_RANK[check_role(role)] > ROLE_RANK.get(actor.role or "", -1):
        raise PermissionDenied(f"only an owner can grant the {role} role")


def _check_may_manage(actor: Actor, current: str) -> None:
    if ROLE_RANK[current] > ROLE_RANK.get(actor.role or "", -1):
        raise PermissionDenied("only an owner can change or remove an owner")


async def _lock_team(
    session: AsyncSession, publisher_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[Membership, int]:
    """Lock the publisher's memberships, always in user-id order so that concurrent changes
    queue instead of deadlocking; return the target's membership and the number of owners."""
    rows = list(
        await session.scalars(
            select(Membership)
            .where(Membership.publisher_id == publisher_id)
            .order_by(Membership.user_id)
            .with_for_update()
        )
    )
    found = next((row for row in rows if row.user_id == user_id), None)
    if found is None:
        raise NotFound("member not found")
    return found, sum(1 for row in rows if row.role == "owner")


def _keep_an_owner(membership: Membership, owners: int) -> None:
    if membership.role == "owner" and owners <= 1:
        raise Conflict("a publisher needs at least one owner: make someone else owner first")


async def change_role(
    session: AsyncSession, actor: Actor, user_id: uuid.UUID, role: str
) -> Membership:
    actor.require_role("admin")
    publisher_id = actor.tenant()
    membership, owners = await _lock_team(session, publisher_id, user_id)
    _check_may_manage(actor, membership.role)
    check_may_grant(actor, role)
    if membership.role == role:
        return membership
    _keep_an_owner(membership, owners)
    before = membership.role
    membership.role = role
    await session.flush()
    # A change of privilege ends the member's sessions: they log in again under the new role.
    await sessions.close_all_for_user(session, user_id)
    await audit.record(
        session,
        actor,
        "member.role_changed",
        "user",
        user_id,
        before={"role": before},
        after={"role": role},
        details={"from": before, "to": role, "sessions_closed": True},
    )
    return membership


async def remove_member(session: AsyncSession, actor: Actor, user_id: uuid.UUID) -> None:
    actor.require_role("admin")
    publisher_id = actor.tenant()
    membership, owners = await _lock_team(session, publisher_id, user_id)
    _check_may_manage(actor, membership.role)
    _keep_an_owner(membership, owners)
    role = membership.role
    await session.execute(
        delete(Membership).where(
            Membership.publisher_id == publisher_id, Membership.user_id == user_id
        )
    )
    await audit.record(
        session,
        actor,
        "member.removed",
        "user",
        user_id,
        before={"role": role},
        details={"role": role},
    )

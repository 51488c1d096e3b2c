"""Invitations to join a publisher: an admin or owner invites an email address with a role, the
address receives a single-use link valid for a week, and accepting it adds the membership, for
an existing account logged in with that address or for a new account created from the link.

Roles are checked here: only admins and owners invite, never above their own role. A new
invitation to the same address replaces the pending one; revoked, used and expired links fail.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import audit
from apex_mediation.accounts.errors import Conflict, PermissionDenied
from apex_mediation.accounts.identity import Actor
from apex_mediation.accounts.passwords import check_policy, hash_password
from apex_mediation.accounts.publishers import normalise_email
from apex_mediation.accounts.team import check_may_grant
from apex_mediation.accounts.tenancy import get_owned
from apex_mediation.accounts.tokens import (
    MAX_TOKEN_LENGTH,
    LinkInvalid,
    check_usable,
    hash_token,
    new_token,
    now,
)
from apex_mediation.db.models import Invitation, Membership, Publisher, User

INVITATION_TTL = dt.timedelta(days=7)


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    publisher_name: str
    token: str  # goes into the emailed link, never stored


@dataclass(frozen=True)
class PendingInvitation:
    """What the accept page shows about a usable link."""

    invitation: Invitation
    publisher_name: str
    account_exists: bool


async def invite(session: AsyncSession, actor: Actor, *, email: str, role: str) -> IssuedInvitation:
    actor.require_role("admin")
    publisher_id = actor.tenant()
    address = normalise_email(email)
    check_may_grant(actor, role)
    member = await session.scalar(
        select(Membership.user_id)
        .join(User, User.id == Membership.user_id)
        .where(Membership.publisher_id == publisher_id, User.email == address)
    )
    if member is not None:
        raise Conflict("this person is already a member", field="email")
    replaced = await session.scalars(
        update(Invitation)
        .where(
            Invitation.publisher_id == publisher_id,
            Invitation.email == address,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(revoked_at=now())
        .returning(Invitation.id)
    )
    token = new_token()
    invitation = Invitation(
        id=uuid.uuid4(),
        publisher_id=publisher_id,
        email=address,
        role=role,
        token_hash=hash_token(token),
        invited_by=uuid.UUID(actor.id) if actor.kind == "user" and actor.id else None,
        expires_at=now() + INVITATION_TTL,
    )
    session.add(invitation)
    await session.flush()
    await audit.record(
        session,
        actor,
        "invitation.created",
        "invitation",
        invitation.id,
        after={"email": address, "role": role},
        details={"role": role, "replaced": [str(i) for i in replaced]},
    )
    publisher = await session.get(Publisher, publisher_id)
    return IssuedInvitation(invitation, publisher.name if publisher else "", token)


async def list_pending(session: AsyncSession, actor: Actor) -> list[Invitation]:
    """The publisher's invitations not yet accepted or revoked (expired ones included)."""
    actor.require_role("admin")
    rows = await session.scalars(
        select(Invitation)
        .where(
            Invitation.publisher_id == actor.tenant(),
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .order_by(Invitation.created_at.desc())
    )
    return list(rows)


async def revoke(session: AsyncSession, actor: Actor, invitation_id: uuid.UUID) -> Invitation:
    actor.require_role("admin")
    invitation = await get_owned(session, Invitation, actor.tenant(), invitation_id, "invitation")
    if invitation.accepted_at is not None:
        raise Conflict("this invitation was already accepted; remove the member instead")
    if invitation.revoked_at is None:
        invitation.revoked_at = now()
        await audit.record(session, actor, "invitation.revoked", "invitation", invitation.id)
    return invitation


async def _usable(session: AsyncSession, token: str, *, lock: bool) -> Invitation:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise LinkInvalid("unknown")
    query = select(Invitation).where(Invitation.token_hash == hash_token(token))
    invitation = await session.scalar(query.with_for_update() if lock else query)
    if invitation is None:
        raise LinkInvalid("unknown")
    check_usable(
        expires_at=invitation.expires_at,
        used_at=invitation.accepted_at,
        revoked_at=invitation.revoked_at,
    )
    return invitation


async def lookup(session: AsyncSession, token: str) -> PendingInvitation:
    """The invitation behind a usable link; LinkInvalid says why a link is not."""
    invitation = await _usable(session, token, lock=False)
    publisher = await session.get(Publisher, invitation.publisher_id)
    exists = await session.scalar(select(User.id).where(User.email == invitation.email))
    return PendingInvitation(invitation, publisher.name if publisher else "", exists is not None)


async def _join(
    session: AsyncSession, invitation: Invitation, user: User, *, new_account: bool, ip: str | None
) -> None:
    role = await session.scalar(
        select(Membership.role).where(
            Membership.publisher_id == invitation.publisher_id, Membership.user_id == user.id
        )
    )
    if role is not None:
        raise Conflict("you are already a member of this publisher")
    session.add(
        Membership(user_id=user.id, publisher_id=invitation.publisher_id, role=invitation.role)
    )
    invitation.accepted_at = now()
    invitation.accepted_by = user.id
    await session.flush()
    actor = Actor(
        kind="user",
        id=str(user.id),
        publisher_id=invitation.publisher_id,
        role=invitation.role,
        ip=ip,
    )
    await audit.record(
        session,
        actor,
        "invitation.accepted",
        "invitation",
        invitation.id,
        details={"role": invitation.role, "user_id": str(user.id), "new_account": new_account},
    )


async def accept(
    session: AsyncSession, token: str, user: User, *, ip: str | None = None
) -> Invitation:
    """Accept for a logged-in user: only the account with the invited address may."""
    invitation = await _usable(session, token, lock=True)
    if user.email != invitation.email:
        raise PermissionDenied(
            "this invitation was sent to another email address; log in with that address"
        )
    await _join(session, invitation, user, new_account=False, ip=ip)
    return invitation


async def accept_with_signup(
    session: AsyncSession, token: str, password: str, *, ip: str | None = None
) -> tuple[User, Invitation]:
    """Create the invited address's account (the link proves the address) and join."""
    invitation = await _usable(session, token, lock=True)
    check_policy(password, invitation.email)
    if await session.scalar(select(User.id).where(User.email == invitation.email)) is not None:
        raise Conflict("an account with this email already exists: log in to accept")
    user = User(id=uuid.uuid4(), email=invitation.email, password_hash=hash_password(password))
    try:
        # A savepoint: a signup racing this one fails only this insert, and the session stays
        # usable for the page that says so.
        async with session.begin_nested():
            session.add(user)
    except IntegrityError as exc:
        raise Conflict("an account with this email already exists: log in to accept") from exc
    await audit.record(
        session,
        Actor(kind="user", id=str(user.id), publisher_id=invitation.publisher_id, ip=ip),
        "user.created",
        "user",
        user.id,
        details={"via": "invitation"},
    )
    await _join(session, invitation, user, new_account=True, ip=ip)
    return user, invitation

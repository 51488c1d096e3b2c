"""Publishers and their members: signup creates a publisher with its first owner."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import audit
from apex_mediation.accounts.errors import Conflict, InvalidInput, NotFound
from apex_mediation.accounts.identity import Actor
from apex_mediation.accounts.passwords import check_policy, hash_password
from apex_mediation.billing.plans import start_trial
from apex_mediation.db.models import ROLES, Membership, Publisher, User
from apex_mediation.observability.business import customers_created_total


@dataclass(frozen=True)
class NewPublisher:
    publisher: Publisher
    owner: User


def normalise_email(email: str) -> str:
    """One address, syntactically valid (no list, no display name), lower-cased."""
    email = email.strip().lower()
    if len(email) > 254:
        raise InvalidInput("email is not a valid address", field="email")
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput("email is not a valid address", field="email") from exc
    return email


async def create_publisher(
    session: AsyncSession,
    *,
    name: str,
    owner_email: str,
    owner_password: str,
    actor: Actor | None = None,
    is_platform_operator: bool = False,
    trial_days: int = 14,
) -> NewPublisher:
    """Create a publisher and its owner in the caller's transaction; its trial starts now."""
    name = name.strip()
    if not name:
        raise InvalidInput("publisher name must not be empty", field="publisherName")
    email = normalise_email(owner_email)
    check_policy(owner_password, email)
    if await session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict("an account with this email already exists", field="email")
    publisher = Publisher(id=uuid.uuid4(), name=name)
    user = User(
        id=uuid.uuid4(),
        email=email,
        password_hash=hash_password(owner_password),
        is_platform_operator=is_platform_operator,
    )
    session.add_all([publisher, user])
    await session.flush()
    session.add(Membership(user_id=user.id, publisher_id=publisher.id, role="owner"))
    start_trial(session, publisher.id, email, dt.datetime.now(dt.UTC), trial_days)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("an account with this email already exists", field="email") from exc
    who = actor or Actor(kind="user", id=str(user.id), publisher_id=publisher.id, role="owner")
    await audit.record(
        session,
        who,
        "publisher.created",
        "publisher",
        publisher.id,
        publisher_id=publisher.id,
        after={"name": name, "owner": str(user.id)},
    )
    customers_created_total.inc()
    return NewPublisher(publisher=publisher, owner=user)


async def membership_role(
    session: AsyncSession, user_id: uuid.UUID, publisher_id: uuid.UUID
) -> str | None:
    role: str | None = await session.scalar(
        select(Membership.role).where(
            Membership.user_id == user_id, Membership.publisher_id == publisher_id
        )
    )
    return role


async def memberships(session: AsyncSession, user_id: uuid.UUID) -> list[tuple[Publisher, str]]:
    rows = await session.execute(
        select(Publisher, Membership.role)
        .join(Membership, Membership.publisher_id == Publisher.id)
        .where(Membership.user_id == user_id)
        .order_by(Publisher.created_at)
    )
    return [(publisher, role) for publisher, role in rows.all()]


async def get_publisher(session: AsyncSession, publisher_id: uuid.UUID) -> Publisher:
    publisher = await session.get(Publisher, publisher_id)
    if publisher is None:
        raise NotFound("publisher not found")
    return publisher


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field="role")
    return role

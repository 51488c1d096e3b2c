"""The platform operator's view of publishers: search, counts, drill-down. Cross-tenant on
purpose, so only the operator's pages call it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import ScalarSelect, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts.errors import NotFound
from apex_mediation.db.models import App, AuditLog, Membership, Placement, Publisher, User


@dataclass(frozen=True)
class PublisherSummary:
    publisher: Publisher
    owner_email: str | None
    members: int
    apps: int
    placements: int


@dataclass(frozen=True)
class PublisherPage:
    rows: list[PublisherSummary]
    total: int


def _count(model: type[App] | type[Placement] | type[Membership]) -> ScalarSelect[int]:
    return (
        select(func.count())
        .where(model.publisher_id == Publisher.id)
        .correlate(Publisher)
        .scalar_subquery()
    )


async def search(
    session: AsyncSession, text: str = "", page: int = 1, page_size: int = 50
) -> PublisherPage:
    """Publishers whose name or a member's email contains `text`, newest first."""
    owner = (
        select(User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.publisher_id == Publisher.id, Membership.role == "owner")
        .order_by(Membership.created_at)
        .limit(1)
        .correlate(Publisher)
        .scalar_subquery()
    )
    query = select(Publisher, owner, _count(Membership), _count(App), _count(Placement)).order_by(
        Publisher.created_at.desc(), Publisher.id
    )
    if text.strip():
        pattern = f"%{text.strip().lower()}%"
        member_match = (
            select(Membership.publisher_id)
            .join(User, User.id == Membership.user_id)
            .where(func.lower(User.email).like(pattern))
        )
        query = query.where(
            or_(func.lower(Publisher.name).like(pattern), Publisher.id.in_(member_match))
        )
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(query.limit(page_size).offset((page - 1) * page_size))
    return PublisherPage(
        [
            PublisherSummary(p, email, members, apps, placements)
            for p, email, members, apps, placements in rows
        ],
        int(total),
    )


@dataclass(frozen=True)
class PublisherDetail:
    summary: PublisherSummary
    members: list[tuple[str, str]]  # (email, role)
    apps: list[App]
    recent_audit: list[AuditLog]


async def detail(session: AsyncSession, publisher_id: uuid.UUID) -> PublisherDetail:
    publisher = await session.get(Publisher, publisher_id)
    if publisher is None:
        raise NotFound("publisher not found")
    members = [
        (email, role)
        for email, role in await session.execute(
            select(User.email, Membership.role)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.publisher_id == publisher_id)
            .order_by(Membership.created_at)
        )
    ]
    apps = list(
        await session.scalars(
            select(App).where(App.publisher_id == publisher_id).order_by(App.created_at)
        )
    )
    placements = await session.scalar(
        select(func.count()).where(Placement.publisher_id == publisher_id)
    )
    audit = list(
        await session.scalars(
            select(AuditLog)
            .where(AuditLog.publisher_id == publisher_id)
            .order_by(AuditLog.occurred_at.desc())
            .limit(20)
        )
    )
    owner = next((email for email, role in members if role == "owner"), None)
    summary = PublisherSummary(publisher, owner, len(members), len(apps), int(placements or 0))
    return PublisherDetail(summary, members, apps, audit)

"""Privacy requests: the record of each export and erasure (who, when, status) and the
receipt it ends with."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts.errors import NotFound
from apex_mediation.accounts.identity import Actor
from apex_mediation.db.models import PrivacyRequest
from apex_mediation.stores.postgres import Postgres

MAX_ERROR_CHARS = 1000


def requester(actor: Actor) -> str:
    """Who asked, as kept on the record: the kind and id of the acting user or key."""
    return f"{actor.kind}:{actor.id or '-'}" + (":operator" if actor.is_platform_operator else "")


async def create(
    session: AsyncSession,
    actor: Actor,
    kind: str,
    publisher_id: uuid.UUID | None,
    *,
    subject: str | None = None,
) -> PrivacyRequest:
    request = PrivacyRequest(
        publisher_id=publisher_id,
        kind=kind,
        status="pending",
        requested_by=requester(actor),
        subject=subject,
    )
    session.add(request)
    await session.flush()
    await session.refresh(request)
    return request


async def get(
    session: AsyncSession, publisher_id: uuid.UUID, request_id: uuid.UUID
) -> PrivacyRequest:
    request = await session.scalar(
        select(PrivacyRequest).where(
            PrivacyRequest.id == request_id, PrivacyRequest.publisher_id == publisher_id
        )
    )
    if request is None:
        raise NotFound("privacy request not found")
    return request


async def list_for(
    session: AsyncSession, publisher_id: uuid.UUID, limit: int = 50
) -> list[PrivacyRequest]:
    return list(
        await session.scalars(
            select(PrivacyRequest)
            .where(PrivacyRequest.publisher_id == publisher_id)
            .order_by(PrivacyRequest.requested_at.desc())
            .limit(limit)
        )
    )


async def claim(postgres: Postgres, request_id: uuid.UUID) -> bool:
    """Move a pending request to running; False if another run took it first."""
    async with postgres.session() as session:
        claimed = await session.scalar(
            update(PrivacyRequest)
            .where(PrivacyRequest.id == request_id, PrivacyRequest.status == "pending")
            .values(status="running", started_at=dt.datetime.now(dt.UTC))
            .returning(PrivacyRequest.id)
        )
        await session.commit()
    return claimed is not None


async def complete(
    postgres: Postgres, request_id: uuid.UUID, receipt: dict[str, Any], **values: Any
) -> None:
    async with postgres.session() as session:
        await session.execute(
            update(PrivacyRequest)
            .where(PrivacyRequest.id == request_id)
            .values(
                status="completed",
                completed_at=dt.datetime.now(dt.UTC),
                receipt=receipt,
                **values,
            )
        )
        await session.commit()


async def fail(postgres: Postgres, request_id: uuid.UUID, error: str) -> None:
    async with postgres.session() as session:
        await session.execute(
            update(PrivacyRequest)
            .where(PrivacyRequest.id == request_id)
            .values(
                status="failed",
                completed_at=dt.datetime.now(dt.UTC),
                error=error[:MAX_ERROR_CHARS],
            )
        )
        await session.commit()


async def pending(postgres: Postgres, kind: str) -> list[uuid.UUID]:
    async with postgres.session() as session:
        return list(
            await session.scalars(
                select(PrivacyRequest.id)
                .where(PrivacyRequest.kind == kind, PrivacyRequest.status == "pending")
                .order_by(PrivacyRequest.requested_at)
            )
        )


def rowcount(result: object) -> int:
    """Rows a DELETE or UPDATE touched (a CursorResult's count; typed as a plain Result)."""
    return int(getattr(result, "rowcount", 0) or 0)


async def requeue_stale(postgres: Postgres, kind: str, started_before: dt.datetime) -> int:
    """Requests left running by a process that died: pending again, for the next run."""
    async with postgres.session() as session:
        result = await session.execute(
            update(PrivacyRequest)
            .where(
                PrivacyRequest.kind == kind,
                PrivacyRequest.status == "running",
                PrivacyRequest.started_at < started_before,
            )
            .values(status="pending", started_at=None)
        )
        await session.commit()
    return rowcount(result)

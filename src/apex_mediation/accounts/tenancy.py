"""Tenant scoping in one place: an object is found only through its own publisher."""

from __future__ import annotations

import uuid
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts.errors import NotFound
from apex_mediation.db.models import Base

M = TypeVar("M", bound=Base)


async def get_owned(
    session: AsyncSession, model: type[M], publisher_id: uuid.UUID, object_id: uuid.UUID, what: str
) -> M:
    """The row with this id if it belongs to this publisher. Another publisher's id raises the
    same NotFound as a missing one, so ids cannot be probed across tenants."""
    query = select(model).where(
        model.id == object_id,  # type: ignore[attr-defined]
        model.publisher_id == publisher_id,  # type: ignore[attr-defined]
    )
    found: M | None = (await session.execute(query)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"{what} not found")
    return found

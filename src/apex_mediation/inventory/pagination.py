"""Page-number pagination as the publisher API documents it (pageSize at most 200)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    page_size: int
    total: int

    @property
    def total_pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


async def paginate(session: AsyncSession, query: Select[T], page: int, page_size: int) -> Page[T]:
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = await session.scalars(query.limit(page_size).offset((page - 1) * page_size))
    return Page(items=list(rows), page=page, page_size=page_size, total=int(total or 0))

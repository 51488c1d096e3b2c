"""Flags: the environment gives the defaults, an operator overrides them at run time (a row in
`ai_flags`, audit-logged), and every call reads them afresh, so a change is effective at once in
every process without a restart."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import audit
from apex_mediation.accounts.errors import InvalidInput
from apex_mediation.accounts.identity import Actor
from apex_mediation.ai.features import ALL_FLAGS, MASTER_FLAG, Feature
from apex_mediation.db.models import AiFlag
from apex_mediation.settings import Settings


def defaults(settings: Settings) -> dict[str, bool]:
    return {
        "ENABLE_AI_AUTOMATION": settings.enable_ai_automation,
        "ENABLE_SALES_AI_OPTIMIZATION": settings.enable_sales_ai_optimization,
        "ENABLE_GROWTH_AI_ANALYTICS": settings.enable_growth_ai_analytics,
        "ENABLE_SELF_EVOLVING_AI": settings.enable_self_evolving_ai,
    }


async def effective(session: AsyncSession, settings: Settings) -> dict[str, bool]:
    flags = defaults(settings)
    for name, enabled in (await session.execute(select(AiFlag.name, AiFlag.enabled))).all():
        flags[name] = enabled
    return flags


async def changed_at(session: AsyncSession) -> dict[str, dt.datetime]:
    rows = await session.execute(select(AiFlag.name, AiFlag.updated_at))
    return {name: at for name, at in rows.all()}


def allows(flags: dict[str, bool], feature: Feature) -> bool:
    return flags[MASTER_FLAG] and flags[feature.flag]


async def set_flag(
    session: AsyncSession, settings: Settings, actor: Actor, name: str, enabled: bool
) -> bool:
    """Set one flag; returns whether it changed. Audit-logged with before and after."""
    if name not in ALL_FLAGS:
        raise InvalidInput(f"unknown flag; one of {', '.join(ALL_FLAGS)}", field="flag")
    before = (await effective(session, settings))[name]
    await session.execute(
        insert(AiFlag)
        .values(name=name, enabled=enabled, updated_by=actor.id or actor.kind)
        .on_conflict_do_update(
            index_elements=[AiFlag.name],
            set_={
                "enabled": enabled,
                "updated_by": actor.id or actor.kind,
                "updated_at": dt.datetime.now(dt.UTC),
            },
        )
    )
    await audit.record(
        session,
        actor,
        "ai.flag_changed",
        "ai_flag",
        name,
        before={"enabled": before},
        after={"enabled": enabled},
    )
    return before != enabled

"""The staged rollout, as the seed plans it: week 1 sales only; week 2 adds growth if this
month's spend is under $50; week 3 adds self-evolving if it is under $75. `advance` moves one
stage at a time and refuses, saying why, when a condition fails; each change is a flag change,
audit-logged."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts.errors import Conflict
from apex_mediation.accounts.identity import Actor
from apex_mediation.ai import budget, flags, money
from apex_mediation.ai.features import MASTER_FLAG, Feature
from apex_mediation.settings import Settings

STAGE_WEEK = dt.timedelta(days=7)


@dataclass(frozen=True)
class Stage:
    number: int
    adds: Feature
    spend_below_micros: int | None  # the month's spend must be under this to enter the stage


STAGES = (
    Stage(1, Feature.SALES, None),
    Stage(2, Feature.GROWTH, 50_000_000),
    Stage(3, Feature.SELF_EVOLVING, 75_000_000),
)


@dataclass(frozen=True)
class Status:
    stage: int  # 0: AI off
    spent_micros: int
    next_stage: Stage | None
    blockers: tuple[str, ...]  # why the next stage cannot start now (empty: it can)


def _current(effective: dict[str, bool]) -> int:
    stage = 0
    if effective[MASTER_FLAG]:
        for candidate in STAGES:
            if not effective[candidate.adds.flag]:
                break
            stage = candidate.number
    return stage


async def status(session: AsyncSession, settings: Settings, now: dt.datetime) -> Status:
    effective = await flags.effective(session, settings)
    stage = _current(effective)
    spent = (await budget.standing(session, settings, now)).spent_micros
    if stage == len(STAGES):
        return Status(stage, spent, None, ())
    upcoming = STAGES[stage]
    blockers: list[str] = []
    if upcoming.spend_below_micros is not None and spent >= upcoming.spend_below_micros:
        blockers.append(
            f"this month's AI spend is {money.micros_to_dollars(spent)}, stage "
            f"{upcoming.number} needs under ${upcoming.spend_below_micros // 1_000_000}"
        )
    if stage > 0:
        since = (await flags.changed_at(session)).get(STAGES[stage - 1].adds.flag)
        if since is not None and now - since < STAGE_WEEK:
            days = (now - since).days
            blockers.append(
                f"stage {stage} began {days} day(s) ago; each stage runs a week before the next"
            )
    return Status(stage, spent, upcoming, tuple(blockers))


async def advance(
    session: AsyncSession, settings: Settings, actor: Actor, now: dt.datetime
) -> Status:
    current = await status(session, settings, now)
    if current.next_stage is None:
        raise Conflict("every stage is already rolled out")
    if current.blockers:
        raise Conflict(
            f"stage {current.next_stage.number} cannot start: " + "; ".join(current.blockers)
        )
    await flags.set_flag(session, settings, actor, MASTER_FLAG, True)
    await flags.set_flag(session, settings, actor, current.next_stage.adds.flag, True)
    await session.flush()
    return await status(session, settings, now)

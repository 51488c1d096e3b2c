"""Reading and changing the knobs' values in PostgreSQL. A change is checked against the knob's
bounds and audit-logged in the caller's transaction; every process picks it up at its next
refresh (store.py)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import audit
from apex_mediation.accounts.errors import InvalidInput
from apex_mediation.accounts.identity import Actor
from apex_mediation.db.models import RuntimeSetting
from apex_mediation.tuning.knobs import AUTO_TUNE, KNOBS, defaults


async def values(session: AsyncSession) -> dict[str, int]:
    """Every knob's effective value: the stored one, else its default."""
    current = defaults()
    for key, value in (
        await session.execute(select(RuntimeSetting.key, RuntimeSetting.value))
    ).all():
        if key in KNOBS:
            current[key] = int(value)
    return current


async def _store(session: AsyncSession, actor: Actor, key: str, value: int) -> None:
    by = str(actor.id) if actor.id else actor.kind
    await session.execute(
        insert(RuntimeSetting)
        .values(key=key, value=value, updated_by=by)
        .on_conflict_do_update(
            index_elements=[RuntimeSetting.key],
            set_={"value": value, "updated_by": by, "updated_at": func.now()},
        )
    )


async def set_value(
    session: AsyncSession, actor: Actor, key: str, value: int, *, reason: str
) -> int:
    """Set one knob (within its bounds); returns the value it had. Audit-logged."""
    knob = KNOBS.get(key)
    if knob is None:
        raise InvalidInput(f"unknown setting; one of {', '.join(KNOBS)}", field="key")
    try:
        knob.check(value)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="value") from exc
    before = (await values(session))[key]
    await _store(session, actor, key, value)
    await audit.record(
        session,
        actor,
        "tuning.changed",
        "runtime_setting",
        key,
        before={"value": before},
        after={"value": value},
        details={"reason": reason, "from": before, "to": value},  # not sensitive: kept
    )
    return before


async def auto_tune_allowed(session: AsyncSession) -> bool:
    stored = await session.scalar(
        select(RuntimeSetting.value).where(RuntimeSetting.key == AUTO_TUNE)
    )
    return bool(stored)


async def set_auto_tune(session: AsyncSession, actor: Actor, allowed: bool) -> None:
    before = await auto_tune_allowed(session)
    await _store(session, actor, AUTO_TUNE, int(allowed))
    await audit.record(
        session,
        actor,
        "tuning.auto_apply_changed",
        "runtime_setting",
        AUTO_TUNE,
        before={"allowed": before},
        after={"allowed": allowed},
        details={"allowed": allowed},
    )

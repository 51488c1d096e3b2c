"""Apps: the publisher's Android, iOS, Unity, web and CTV properties."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import audit
from apex_mediation.accounts.errors import InvalidInput
from apex_mediation.accounts.identity import Actor
from apex_mediation.accounts.tenancy import get_owned
from apex_mediation.db.models import App
from apex_mediation.inventory.pagination import Page, paginate
from apex_mediation.inventory.specs import AppPatch, AppSpec


def _state(app: App) -> dict[str, Any]:
    return {
        "name": app.name,
        "platform": app.platform,
        "bundle_id": app.bundle_id,
        "domain": app.domain,
        "allowed_origins": list(app.allowed_origins),
        "test_mode": app.test_mode,
        "status": app.status,
    }


def _still_valid(app: App) -> None:
    """A patch may not leave the app invalid (a web app without its domain, say)."""
    state = {k: v for k, v in _state(app).items() if k != "status"}
    try:
        AppSpec.model_validate(state)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "body"
        raise InvalidInput(error["msg"].removeprefix("Value error, "), field=field) from exc


async def get_app(session: AsyncSession, publisher_id: uuid.UUID, app_id: uuid.UUID) -> App:
    return await get_owned(session, App, publisher_id, app_id, "app")


async def list_apps(
    session: AsyncSession, publisher_id: uuid.UUID, page: int, page_size: int
) -> Page[App]:
    query = select(App).where(App.publisher_id == publisher_id).order_by(App.created_at, App.id)
    return await paginate(session, query, page, page_size)


async def create_app(session: AsyncSession, actor: Actor, spec: AppSpec) -> App:
    actor.require_role("member")
    app = App(id=uuid.uuid4(), publisher_id=actor.tenant(), **spec.model_dump())
    session.add(app)
    await session.flush()
    await audit.record(session, actor, "app.created", "app", app.id, after=_state(app))
    return app


async def update_app(
    session: AsyncSession, actor: Actor, app_id: uuid.UUID, patch: AppPatch
) -> App:
    actor.require_role("member")
    app = await get_app(session, actor.tenant(), app_id)
    before = _state(app)
    for name, value in patch.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(app, name, value)
    _still_valid(app)
    app.updated_at = func.now()
    await session.flush()
    await session.refresh(app)
    await audit.record(
        session, actor, "app.updated", "app", app.id, before=before, after=_state(app)
    )
    return app


async def delete_app(session: AsyncSession, actor: Actor, app_id: uuid.UUID) -> None:
    actor.require_role("admin")
    app = await get_app(session, actor.tenant(), app_id)
    before = _state(app)
    await session.delete(app)
    await audit.record(session, actor, "app.deleted", "app", app_id, before=before)

"""Apps: `/api/v1/apps`."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from apex_mediation.api.deps import ManagementActor, SessionDep
from apex_mediation.api.schemas import AppOut, Paginated, paginated
from apex_mediation.inventory import apps
from apex_mediation.inventory.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from apex_mediation.inventory.specs import AppPatch, AppSpec

router = APIRouter(prefix="/api/v1/apps", tags=["apps"])
PageQuery = Annotated[int, Query(ge=1, le=1_000_000)]
PageSizeQuery = Annotated[int, Query(alias="pageSize", ge=1, le=MAX_PAGE_SIZE)]


@router.get("", response_model=Paginated[AppOut])
async def list_apps(
    actor: ManagementActor,
    session: SessionDep,
    page: PageQuery = 1,
    page_size: PageSizeQuery = DEFAULT_PAGE_SIZE,
) -> dict[str, Any]:
    result = await apps.list_apps(session, actor.tenant(), page, page_size)
    return paginated(result, [AppOut.of(app) for app in result.items])


@router.post("", status_code=201, response_model=AppOut)
async def create_app(body: AppSpec, actor: ManagementActor, session: SessionDep) -> AppOut:
    return AppOut.of(await apps.create_app(session, actor, body))


@router.get("/{app_id}", response_model=AppOut)
async def get_app(app_id: uuid.UUID, actor: ManagementActor, session: SessionDep) -> AppOut:
    return AppOut.of(await apps.get_app(session, actor.tenant(), app_id))


@router.patch("/{app_id}", response_model=AppOut)
async def update_app(
    app_id: uuid.UUID, body: AppPatch, actor: ManagementActor, session: SessionDep
) -> AppOut:
    return AppOut.of(await apps.update_app(session, actor, app_id, body))


@router.delete("/{app_id}", status_code=204)
async def delete_app(app_id: uuid.UUID, actor: ManagementActor, session: SessionDep) -> Response:
    await apps.delete_app(session, actor, app_id)
    return Response(status_code=204)

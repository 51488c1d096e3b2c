"""Placements: `/api/v1/placements` as PROTOCOL.md §8 documents it."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from apex_mediation.api.deps import ManagementActor, SessionDep
from apex_mediation.api.routes.apps import PageQuery, PageSizeQuery
from apex_mediation.api.schemas import Paginated, PlacementOut, paginated
from apex_mediation.inventory import placements
from apex_mediation.inventory.pagination import DEFAULT_PAGE_SIZE
from apex_mediation.inventory.specs import PlacementReplace, PlacementSpec

router = APIRouter(prefix="/api/v1/placements", tags=["placements"])
FormatQuery = Annotated[
    Literal["banner", "interstitial", "rewarded", "native", "app_open"] | None, Query()
]


@router.get("", response_model=Paginated[PlacementOut])
async def list_placements(
    actor: ManagementActor,
    session: SessionDep,
    page: PageQuery = 1,
    page_size: PageSizeQuery = DEFAULT_PAGE_SIZE,
    format: FormatQuery = None,
    app_id: Annotated[uuid.UUID | None, Query(alias="appId")] = None,
) -> dict[str, Any]:
    result = await placements.list_placements(
        session, actor.tenant(), page=page, page_size=page_size, ad_format=format, app_id=app_id
    )
    return paginated(result, [PlacementOut.of(view) for view in result.items])


@router.post("", status_code=201, response_model=PlacementOut)
async def create_placement(
    body: PlacementSpec, actor: ManagementActor, session: SessionDep
) -> PlacementOut:
    return PlacementOut.of(await placements.create_placement(session, actor, body))


@router.get("/{placement_id}", response_model=PlacementOut)
async def get_placement(
    placement_id: uuid.UUID, actor: ManagementActor, session: SessionDep
) -> PlacementOut:
    return PlacementOut.of(await placements.get_placement(session, actor.tenant(), placement_id))


@router.put("/{placement_id}", response_model=PlacementOut)
async def replace_placement(
    placement_id: uuid.UUID, body: PlacementReplace, actor: ManagementActor, session: SessionDep
) -> PlacementOut:
    return PlacementOut.of(await placements.replace_placement(session, actor, placement_id, body))


@router.delete("/{placement_id}", status_code=204)
async def delete_placement(
    placement_id: uuid.UUID, actor: ManagementActor, session: SessionDep
) -> Response:
    await placements.delete_placement(session, actor, placement_id)
    return Response(status_code=204)

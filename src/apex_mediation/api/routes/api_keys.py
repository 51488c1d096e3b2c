"""API keys: `/api/v1/api-keys`; the key itself is in the creation response only."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from pydantic.alias_generators import to_camel

from apex_mediation.accounts import api_keys
from apex_mediation.accounts.identity import Actor
from apex_mediation.api.deps import ManagementActor, SessionDep
from apex_mediation.api.schemas import ApiKeyOut, IssuedApiKeyOut

router = APIRouter(prefix="/api/v1/api-keys", tags=["api keys"])


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    name: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    scopes: Annotated[list[StrictStr], Field(min_length=1, max_length=3)]
    app_id: uuid.UUID | None = None


def _admin(actor: Actor) -> Actor:
    actor.require_role("admin")
    return actor


@router.get("", response_model=list[ApiKeyOut])
async def list_keys(actor: ManagementActor, session: SessionDep) -> list[ApiKeyOut]:
    return [ApiKeyOut.of(key) for key in await api_keys.list_keys(session, actor.tenant())]


@router.post("", status_code=201, response_model=IssuedApiKeyOut)
async def create_key(
    body: ApiKeyIn, actor: ManagementActor, session: SessionDep
) -> IssuedApiKeyOut:
    issued = await api_keys.issue(
        session, _admin(actor), name=body.name, scopes=body.scopes, app_id=body.app_id
    )
    return IssuedApiKeyOut(**ApiKeyOut.of(issued.key).model_dump(), key=issued.secret)


@router.delete("/{key_id}", response_model=ApiKeyOut)
async def revoke_key(key_id: uuid.UUID, actor: ManagementActor, session: SessionDep) -> ApiKeyOut:
    return ApiKeyOut.of(await api_keys.revoke(session, _admin(actor), key_id))

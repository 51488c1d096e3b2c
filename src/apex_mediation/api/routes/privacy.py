"""Privacy: `/api/v1/privacy/…` — data exports with signed download links, account erasure,
end-user (device) erasure, and the record of each request with its receipt."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator
from pydantic.alias_generators import to_camel
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts.identity import Actor
from apex_mediation.api.deps import (
    ManagementActor,
    OperatorActor,
    ServicesDep,
    SessionDep,
    client_ip,
)
from apex_mediation.api.errors import error_response
from apex_mediation.api.schemas import Out
from apex_mediation.compliance import deferral, device_erasure, erasure, export, links, requests
from apex_mediation.db.models import PrivacyRequest
from apex_mediation.services import Services

router = APIRouter(prefix="/api/v1/privacy", tags=["privacy"])


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    @field_validator("*")
    @classmethod
    def _utf8(cls, value: object) -> object:
        # JSON may carry lone surrogates, which no hash or password check can take.
        if isinstance(value, str):
            try:
                value.encode()
            except UnicodeEncodeError:
                raise ValueError("must be valid Unicode text") from None
        return value


class ErasureIn(_In):
    password: Annotated[StrictStr, Field(min_length=1, max_length=256)]


class DeviceErasureIn(_In):
    advertising_id: Annotated[StrictStr | None, Field(min_length=1, max_length=200)] = None
    install_id: Annotated[StrictStr | None, Field(min_length=1, max_length=200)] = None


class PrivacyRequestOut(Out):
    id: uuid.UUID
    kind: str
    status: str
    requested_by: str
    requested_at: dt.datetime
    started_at: dt.datetime | None
    completed_at: dt.datetime | None
    error: str | None
    receipt: dict[str, Any]
    expires_at: dt.datetime | None
    download_url: str | None = None

    @classmethod
    def of(cls, request: PrivacyRequest, services: Services | None = None) -> PrivacyRequestOut:
        """The request as shown; with `services`, a completed export's link until it expires."""
        out = cls.model_validate(request)
        expires = request.expires_at
        if services is None or request.status != "completed" or expires is None:
            return out
        if expires > dt.datetime.now(dt.UTC):
            out.download_url = links.sign(
                services.settings.secret,
                services.settings.base_url,
                request.id,
                int(expires.timestamp()),
            )
        return out


def ingest_flusher(request: Request) -> Callable[[], Awaitable[None]] | None:
    """This process's ingest shipper, drained before an erasure so that no event it already
    acknowledged reaches ClickHouse after the rows are deleted."""
    runtime = getattr(request.app.state, "auction", None)
    if runtime is None:
        return None

    async def flush() -> None:
        await runtime.ingest.sync()
        await runtime.shipper.drain()

    return flush


def _owner(actor: Actor) -> Actor:
    actor.require_role("owner")
    return actor


@router.post("/exports", status_code=202, response_model=PrivacyRequestOut)
async def request_export(
    actor: ManagementActor, session: SessionDep, services: ServicesDep, tasks: BackgroundTasks
) -> PrivacyRequestOut:
    request = await export.request_export(session, actor)
    # After the response, so after the commit: the job finds the request when it runs.
    tasks.add_task(deferral.defer, services)
    return PrivacyRequestOut.of(request)


@router.get("/requests", response_model=list[PrivacyRequestOut])
async def list_requests(
    actor: ManagementActor, session: SessionDep, services: ServicesDep
) -> list[PrivacyRequestOut]:
    found = await requests.list_for(session, _owner(actor).tenant())
    return [PrivacyRequestOut.of(r, services) for r in found]


@router.get("/requests/{request_id}", response_model=PrivacyRequestOut)
async def get_request(
    request_id: uuid.UUID, actor: ManagementActor, session: SessionDep, services: ServicesDep
) -> PrivacyRequestOut:
    found = await requests.get(session, _owner(actor).tenant(), request_id)
    return PrivacyRequestOut.of(found, services)


@router.get("/exports/{request_id}/download", response_model=None)
async def download_export(
    request: Request,
    request_id: uuid.UUID,
    session: SessionDep,
    services: ServicesDep,
    expires: Annotated[int, Query(ge=0)],
    signature: Annotated[str, Query(min_length=1, max_length=128)],
) -> FileResponse | JSONResponse:
    """No login: the signed link is the credential, valid until it expires."""
    try:
        links.verify(services.settings.secret, request_id, expires, signature)
        now = dt.datetime.now(dt.UTC)
        path = await export.download_path(session, services, request_id, now, client_ip(request))
    except links.LinkRejected as exc:
        return error_response(410 if exc.expired else 403, exc.message)
    return FileResponse(
        path,
        media_type="application/zip",
        filename=f"apex-export-{request_id}.zip",
        headers={"Cache-Control": "no-store"},
    )


@router.post("/erasure", response_model=PrivacyRequestOut)
async def erase_account(
    request: Request,
    body: ErasureIn,
    actor: ManagementActor,
    session: SessionDep,
    services: ServicesDep,
) -> PrivacyRequestOut:
    erased = await erasure.erase_account(
        session, services, actor, body.password, flush_ingest=ingest_flusher(request)
    )
    return PrivacyRequestOut.of(erased)


async def _erase_device(
    request: Request,
    body: DeviceErasureIn,
    actor: Actor,
    session: AsyncSession,
    services: Services,
    *,
    all_publishers: bool,
) -> PrivacyRequestOut:
    erased = await device_erasure.erase_device(
        session,
        services,
        actor,
        advertising_id=body.advertising_id,
        install_id=body.install_id,
        all_publishers=all_publishers,
        flush_ingest=ingest_flusher(request),
    )
    return PrivacyRequestOut.of(erased)


@router.post("/device-erasures", response_model=PrivacyRequestOut)
async def erase_device(
    request: Request,
    body: DeviceErasureIn,
    actor: ManagementActor,
    session: SessionDep,
    services: ServicesDep,
) -> PrivacyRequestOut:
    return await _erase_device(request, body, actor, session, services, all_publishers=False)


@router.post("/operator/device-erasures", response_model=PrivacyRequestOut)
async def erase_device_everywhere(
    request: Request,
    body: DeviceErasureIn,
    actor: OperatorActor,
    session: SessionDep,
    services: ServicesDep,
) -> PrivacyRequestOut:
    return await _erase_device(request, body, actor, session, services, all_publishers=True)

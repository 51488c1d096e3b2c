"""Network accounts: `/api/v1/network-accounts`; credentials are write-only."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response

from apex_mediation.api.deps import ManagementActor, ServicesDep, SessionDep
from apex_mediation.api.routes.apps import PageQuery, PageSizeQuery
from apex_mediation.api.schemas import NetworkAccountOut, Paginated, paginated
from apex_mediation.db.models import NetworkAccount
from apex_mediation.inventory import network_accounts
from apex_mediation.inventory.pagination import DEFAULT_PAGE_SIZE
from apex_mediation.inventory.specs import NetworkAccountPatch, NetworkAccountSpec

router = APIRouter(prefix="/api/v1/network-accounts", tags=["network accounts"])


def _out(services: ServicesDep, account: NetworkAccount) -> NetworkAccountOut:
    masked = network_accounts.masked_credentials(services.settings.secret, account)
    return NetworkAccountOut.of(account, masked)


@router.get("", response_model=Paginated[NetworkAccountOut])
async def list_accounts(
    actor: ManagementActor,
    session: SessionDep,
    services: ServicesDep,
    page: PageQuery = 1,
    page_size: PageSizeQuery = DEFAULT_PAGE_SIZE,
) -> dict[str, Any]:
    result = await network_accounts.list_accounts(session, actor.tenant(), page, page_size)
    return paginated(result, [_out(services, account) for account in result.items])


@router.post("", status_code=201, response_model=NetworkAccountOut)
async def create_account(
    body: NetworkAccountSpec, actor: ManagementActor, session: SessionDep, services: ServicesDep
) -> NetworkAccountOut:
    account = await network_accounts.create_account(session, actor, services.settings.secret, body)
    return _out(services, account)


@router.get("/{account_id}", response_model=NetworkAccountOut)
async def get_account(
    account_id: uuid.UUID, actor: ManagementActor, session: SessionDep, services: ServicesDep
) -> NetworkAccountOut:
    return _out(services, await network_accounts.get_account(session, actor.tenant(), account_id))


@router.patch("/{account_id}", response_model=NetworkAccountOut)
async def update_account(
    account_id: uuid.UUID,
    body: NetworkAccountPatch,
    actor: ManagementActor,
    session: SessionDep,
    services: ServicesDep,
) -> NetworkAccountOut:
    account = await network_accounts.update_account(
        session, actor, services.settings.secret, account_id, body
    )
    return _out(services, account)


@router.delete("/{account_id}", status_code=204)
async def delete_account(
    account_id: uuid.UUID, actor: ManagementActor, session: SessionDep
) -> Response:
    await network_accounts.delete_account(session, actor, account_id)
    return Response(status_code=204)

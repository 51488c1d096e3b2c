"""Network accounts: the publisher's own credentials for each ad network (bring your own).

Credentials are write-only: encrypted at rest with AES-GCM, never returned, only their key names
and masked tails are shown.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import audit
from apex_mediation.accounts.crypto import decrypt_json, encrypt_json, mask
from apex_mediation.accounts.errors import Conflict, InvalidInput
from apex_mediation.accounts.identity import Actor
from apex_mediation.accounts.tenancy import get_owned
from apex_mediation.auction.adapters.registry import validate_credentials
from apex_mediation.db.models import NetworkAccount
from apex_mediation.inventory.pagination import Page, paginate
from apex_mediation.inventory.specs import NetworkAccountPatch, NetworkAccountSpec


def _aad(account_id: uuid.UUID, publisher_id: uuid.UUID) -> str:
    return f"network_account:{publisher_id}:{account_id}"


def _state(account: NetworkAccount) -> dict[str, Any]:
    # The credentials' digest changes when they do, without the log holding them.
    return {
        "network": account.network,
        "name": account.name,
        "credentials": audit.digest({"blob": account.credentials_encrypted.hex()}),
        "bid_adjustment_ppm": account.bid_adjustment_ppm,
        "enabled": account.enabled,
    }


def masked_credentials(secret: bytes, account: NetworkAccount) -> dict[str, str]:
    values = decrypt_json(
        secret, account.credentials_encrypted, _aad(account.id, account.publisher_id)
    )
    return {key: mask(value) for key, value in sorted(values.items())}


def credentials(secret: bytes, account: NetworkAccount) -> dict[str, str]:
    """The plaintext credentials, for the auction's bidder requests only."""
    return decrypt_json(
        secret, account.credentials_encrypted, _aad(account.id, account.publisher_id)
    )


def _check_credentials(network: str, values: dict[str, str]) -> None:
    problems = validate_credentials(network, dict(values))
    if problems:
        raise InvalidInput(problems[0].removeprefix("credentials: "), field="credentials")


async def get_account(
    session: AsyncSession, publisher_id: uuid.UUID, account_id: uuid.UUID
) -> NetworkAccount:
    return await get_owned(session, NetworkAccount, publisher_id, account_id, "network account")


async def list_accounts(
    session: AsyncSession, publisher_id: uuid.UUID, page: int, page_size: int
) -> Page[NetworkAccount]:
    query = (
        select(NetworkAccount)
        .where(NetworkAccount.publisher_id == publisher_id)
        .order_by(NetworkAccount.network, NetworkAccount.name)
    )
    return await paginate(session, query, page, page_size)


async def create_account(
    session: AsyncSession, actor: Actor, secret: bytes, spec: NetworkAccountSpec
) -> NetworkAccount:
    actor.require_role("admin")
    publisher_id = actor.tenant()
    _check_credentials(spec.network, spec.credentials)
    account_id = uuid.uuid4()
    account = NetworkAccount(
        id=account_id,
        publisher_id=publisher_id,
        network=spec.network,
        name=spec.name,
        credentials_encrypted=encrypt_json(
            secret, spec.credentials, _aad(account_id, publisher_id)
        ),
        credential_keys=sorted(spec.credentials),
        bid_adjustment_ppm=spec.bid_adjustment_ppm,
        enabled=spec.enabled,
    )
    session.add(account)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"a {spec.network} account named {spec.name!r} already exists", field="name"
        ) from exc
    await audit.record(
        session,
        actor,
        "network_account.created",
        "network_account",
        account.id,
        after=_state(account),
    )
    return account


async def update_account(
    session: AsyncSession,
    actor: Actor,
    secret: bytes,
    account_id: uuid.UUID,
    patch: NetworkAccountPatch,
) -> NetworkAccount:
    actor.require_role("admin")
    account = await get_account(session, actor.tenant(), account_id)
    before = _state(account)
    if patch.name is not None:
        account.name = patch.name
    if patch.bid_adjustment_ppm is not None:
        account.bid_adjustment_ppm = patch.bid_adjustment_ppm
    if patch.enabled is not None:
        account.enabled = patch.enabled
    if patch.credentials is not None:
        _check_credentials(account.network, patch.credentials)
        account.credentials_encrypted = encrypt_json(
            secret, patch.credentials, _aad(account.id, account.publisher_id)
        )
        account.credential_keys = sorted(patch.credentials)
    account.updated_at = func.now()
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"a {account.network} account with this name already exists", field="name"
        ) from exc
    await session.refresh(account)
    action = (
        "network_account.credentials_changed"
        if patch.credentials is not None
        else "network_account.updated"
    )
    await audit.record(
        session, actor, action, "network_account", account.id, before=before, after=_state(account)
    )
    return account


async def delete_account(session: AsyncSession, actor: Actor, account_id: uuid.UUID) -> None:
    actor.require_role("admin")
    account = await get_account(session, actor.tenant(), account_id)
    before = _state(account)
    await session.delete(account)
    await audit.record(
        session, actor, "network_account.deleted", "network_account", account_id, before=before
    )

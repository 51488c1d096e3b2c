"""API keys: shown once, stored as a sha256 hash, scoped, revocable, with a last-used time."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import audit
from apex_mediation.accounts.errors import InvalidInput, NotFound
from apex_mediation.accounts.identity import Actor
from apex_mediation.accounts.tenancy import get_owned
from apex_mediation.db.models import API_KEY_SCOPES, ApiKey, App

KEY_PREFIX = "apx"
PREFIX_SHOWN = 12
# last_used_at is written at most this often per key, so authentication is not a write per call.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    secret: str  # the full key: returned once, never stored


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _validate_scopes(scopes: list[str], app_id: uuid.UUID | None) -> list[str]:
    unique = sorted(set(scopes))
    if not unique:
        raise InvalidInput("at least one scope is required", field="scopes")
    unknown = [s for s in unique if s not in API_KEY_SCOPES]
    if unknown:
        raise InvalidInput(
            f"unknown scope {unknown[0]!r}; use {', '.join(API_KEY_SCOPES)}", field="scopes"
        )
    if "sdk" in unique and (len(unique) > 1 or app_id is None):
        raise InvalidInput(
            "an sdk key belongs to one app (appId) and has no other scope",
            field="scopes" if app_id else "appId",
        )
    if "sdk" not in unique and app_id is not None:
        raise InvalidInput("only sdk keys are bound to an app", field="appId")
    return unique


async def issue(
    session: AsyncSession,
    actor: Actor,
    *,
    name: str,
    scopes: list[str],
    app_id: uuid.UUID | None = None,
) -> IssuedKey:
    publisher_id = actor.tenant()
    scopes = _validate_scopes(scopes, app_id)
    if (
        app_id is not None
        and await session.scalar(
            select(App.id).where(App.id == app_id, App.publisher_id == publisher_id)
        )
        is None
    ):
        raise NotFound("app not found", field="appId")
    scope_tag = "sdk" if scopes == ["sdk"] else "srv"
    secret = f"{KEY_PREFIX}_{scope_tag}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        id=uuid.uuid4(),
        publisher_id=publisher_id,
        app_id=app_id,
        name=name.strip(),
        prefix=secret[:PREFIX_SHOWN],
        key_hash=hash_key(secret),
        scopes=scopes,
        created_by=uuid.UUID(actor.id) if actor.kind == "user" and actor.id else None,
    )
    session.add(key)
    await session.flush()
    await audit.record(
        session,
        actor,
        "api_key.created",
        "api_key",
        key.id,
        after={"name": key.name, "scopes": scopes, "app_id": str(app_id)},
    )
    return IssuedKey(key=key, secret=secret)


async def list_keys(session: AsyncSession, publisher_id: uuid.UUID) -> list[ApiKey]:
    rows = await session.scalars(
        select(ApiKey).where(ApiKey.publisher_id == publisher_id).order_by(ApiKey.created_at.desc())
    )
    return list(rows)


async def revoke(session: AsyncSession, actor: Actor, key_id: uuid.UUID) -> ApiKey:
    key = await get_owned(session, ApiKey, actor.tenant(), key_id, "API key")
    if key.revoked_at is None:
        key.revoked_at = dt.datetime.now(dt.UTC)
        await audit.record(session, actor, "api_key.revoked", "api_key", key.id)
    return key


async def authenticate(session: AsyncSession, secret: str) -> ApiKey | None:
    """The live key for this secret, touching last_used_at (coarsely); None if unknown/revoked."""
    key = await session.scalar(
        select(ApiKey).where(ApiKey.key_hash == hash_key(secret), ApiKey.revoked_at.is_(None))
    )
    if key is None:
        return None
    now = dt.datetime.now(dt.UTC)
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        # Committed with the caller's unit of work.
        await session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
    return key

"""Dependencies as Annotated aliases: the unit of work, the acting identity, the services."""

from __future__ import annotations

import datetime as dt
import hmac
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import api_keys, publishers, sessions
from apex_mediation.accounts.errors import AuthenticationFailed, NotFound, PermissionDenied
from apex_mediation.accounts.identity import Actor
from apex_mediation.billing import access, usage
from apex_mediation.db.models import User
from apex_mediation.services import Services

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def unit_of_work(services: ServicesDep) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back if it
    raises. Ends before the response is sent, so a 2xx means the change is committed."""
    async with services.postgres.session() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


SessionDep = Annotated[AsyncSession, Depends(unit_of_work, scope="function")]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def _actor_from_key(session: AsyncSession, secret: str, ip: str | None) -> Actor:
    key = await api_keys.authenticate(session, secret)
    if key is None:
        raise AuthenticationFailed("API key is unknown or revoked")
    if "sdk" in key.scopes:
        raise PermissionDenied("an sdk key cannot call the publisher API")
    role = "admin" if "management" in key.scopes else "read_only"
    return Actor(
        kind="api_key",
        id=str(key.id),
        publisher_id=key.publisher_id,
        role=role,
        scopes=frozenset(key.scopes),
        ip=ip,
    )


async def _actor_from_session(
    request: Request, session: AsyncSession, token: str, publisher_header: str | None
) -> Actor:
    resolved = await sessions.resolve(session, token)
    if resolved is None:
        raise AuthenticationFailed("session expired; log in again")
    user, console_session = resolved
    if request.method not in SAFE_METHODS:
        sent = request.headers.get("x-csrf-token", "")
        if not hmac.compare_digest(sent, console_session.csrf_token):
            raise PermissionDenied("missing or wrong CSRF token (X-CSRF-Token header)")
    ip = client_ip(request)
    if publisher_header:
        try:
            publisher_id = uuid.UUID(publisher_header)
        except ValueError as exc:
            raise NotFound("publisher not found") from exc
        role = await publishers.membership_role(session, user.id, publisher_id)
        if role is None and not user.is_platform_operator:
            raise NotFound("publisher not found")
        if role is None:
            await publishers.get_publisher(session, publisher_id)
            role = "admin"  # the operator acts on a publisher's behalf, audited as themselves
        return Actor(
            kind="user",
            id=str(user.id),
            publisher_id=publisher_id,
            role=role,
            is_platform_operator=user.is_platform_operator,
            ip=ip,
        )
    mine = await publishers.memberships(session, user.id)
    chosen = sessions.choose_membership(request.cookies.get(sessions.PUBLISHER_COOKIE_NAME), mine)
    return Actor(
        kind="user",
        id=str(user.id),
        publisher_id=chosen[0].id if chosen else None,
        role=chosen[1] if chosen else None,
        is_platform_operator=user.is_platform_operator,
        ip=ip,
    )


async def current_actor(
    request: Request,
    session: SessionDep,
    authorization: Annotated[str | None, Header()] = None,
    x_publisher_id: Annotated[str | None, Header()] = None,
) -> Actor:
    if authorization:
        scheme, _, secret = authorization.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise AuthenticationFailed("Authorization must be 'Bearer <API key>'")
        actor = await _actor_from_key(session, secret.strip(), client_ip(request))
        if actor.publisher_id is not None:
            services: Services = request.app.state.services
            await usage.count_api_call(services.cache, actor.publisher_id, dt.datetime.now(dt.UTC))
    else:
        token = request.cookies.get(sessions.COOKIE_NAME)
        if not token:
            raise AuthenticationFailed(
                "authentication required: a Bearer API key or a console session"
            )
        actor = await _actor_from_session(request, session, token, x_publisher_id)
    if request.method not in SAFE_METHODS and not actor.is_platform_operator:
        status = await access.billing_status(session, actor.publisher_id)
        access.check_change_allowed(status, request.url.path)
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]


async def management_actor(actor: CurrentActor) -> Actor:
    actor.require_scope("management")
    actor.tenant()
    return actor


ManagementActor = Annotated[Actor, Depends(management_actor)]


async def operator_actor(actor: CurrentActor) -> Actor:
    if not actor.is_platform_operator:
        raise PermissionDenied("platform operators only")
    return actor


OperatorActor = Annotated[Actor, Depends(operator_actor)]


@dataclass(frozen=True)
class LoggedIn:
    """A console session's own user, for what only that person may do (password, two-factor);
    API keys are never a person, and the publisher's billing standing does not matter here."""

    user: User
    token: str
    csrf_token: str


async def logged_in(request: Request, session: SessionDep) -> LoggedIn:
    token = request.cookies.get(sessions.COOKIE_NAME)
    resolved = await sessions.resolve(session, token) if token else None
    if token is None or resolved is None:
        raise AuthenticationFailed("log in first: this needs your own console session")
    user, console_session = resolved
    if request.method not in SAFE_METHODS:
        sent = request.headers.get("x-csrf-token", "")
        if not hmac.compare_digest(sent, console_session.csrf_token):
            raise PermissionDenied("missing or wrong CSRF token (X-CSRF-Token header)")
    return LoggedIn(user, token, console_session.csrf_token)


LoggedInDep = Annotated[LoggedIn, Depends(logged_in)]

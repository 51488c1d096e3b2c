"""Signup, login, logout and the current user, on server-side console sessions."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Request, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StrictStr
from pydantic.alias_generators import to_camel

from apex_mediation.accounts import publishers, sessions, users
from apex_mediation.accounts.errors import AuthenticationFailed
from apex_mediation.accounts.passwords import MAX_LENGTH
from apex_mediation.api.deps import ServicesDep, SessionDep, client_ip
from apex_mediation.api.schemas import MeOut, PublisherOut
from apex_mediation.billing import runtime as billing_runtime

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)


class SignupIn(_In):
    email: EmailStr
    password: Annotated[StrictStr, Field(max_length=MAX_LENGTH)]
    publisher_name: Annotated[StrictStr, Field(min_length=1, max_length=200)]


class LoginIn(_In):
    email: Annotated[StrictStr, Field(max_length=254)]
    password: Annotated[StrictStr, Field(max_length=MAX_LENGTH)]


def _set_cookie(response: Response, services: ServicesDep, opened: sessions.OpenedSession) -> None:
    response.set_cookie(
        sessions.COOKIE_NAME,
        opened.token,
        httponly=True,
        samesite="lax",
        secure=services.settings.cookie_secure,
        expires=opened.expires_at,
        path="/",
    )


async def _me(
    session: SessionDep, user_id: object, email: str, operator: bool, csrf: str | None
) -> MeOut:
    import uuid

    assert isinstance(user_id, uuid.UUID)
    mine = await publishers.memberships(session, user_id)
    return MeOut(
        user_id=user_id,
        email=email,
        is_platform_operator=operator,
        csrf_token=csrf,
        publishers=[PublisherOut(id=p.id, name=p.name, role=role) for p, role in mine],
    )


@router.post("/signup", status_code=201, response_model=MeOut)
async def signup(
    body: SignupIn,
    request: Request,
    response: Response,
    session: SessionDep,
    services: ServicesDep,
    background: BackgroundTasks,
) -> MeOut:
    created = await publishers.create_publisher(
        session,
        name=body.publisher_name,
        owner_email=str(body.email),
        owner_password=body.password,
        trial_days=services.settings.trial_days,
    )
    background.add_task(billing_runtime.create_customer, request.app, created.publisher.id)
    opened = await sessions.open_session(
        session,
        created.owner.id,
        ttl=dt.timedelta(hours=services.settings.session_ttl_hours),
        ip=client_ip(request),
    )
    _set_cookie(response, services, opened)
    return await _me(session, created.owner.id, created.owner.email, False, opened.csrf_token)


@router.post("/login", response_model=MeOut)
async def login(
    body: LoginIn, request: Request, response: Response, session: SessionDep, services: ServicesDep
) -> MeOut:
    user = await users.authenticate(session, body.email, body.password, ip=client_ip(request))
    # A fresh session id at every login: a token planted before login is worthless after.
    old = request.cookies.get(sessions.COOKIE_NAME)
    if old:
        await sessions.close_session(session, old)
    opened = await sessions.open_session(
        session,
        user.id,
        ttl=dt.timedelta(hours=services.settings.session_ttl_hours),
        ip=client_ip(request),
    )
    _set_cookie(response, services, opened)
    return await _me(session, user.id, user.email, user.is_platform_operator, opened.csrf_token)


@router.post("/logout", status_code=204)
async def logout(request: Request, session: SessionDep) -> Response:
    token = request.cookies.get(sessions.COOKIE_NAME)
    if token:
        await sessions.close_session(session, token)
    response = Response(status_code=204)
    response.delete_cookie(sessions.COOKIE_NAME, path="/")
    return response


@router.get("/me", response_model=MeOut)
async def me(request: Request, session: SessionDep) -> MeOut:
    token = request.cookies.get(sessions.COOKIE_NAME)
    resolved = await sessions.resolve(session, token) if token else None
    if resolved is None:
        raise AuthenticationFailed("not logged in")
    user, console_session = resolved
    return await _me(
        session, user.id, user.email, user.is_platform_operator, console_session.csrf_token
    )

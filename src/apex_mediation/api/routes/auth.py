"""Signup, login (with its two-factor second step), logout and the current user, on
server-side console sessions."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StrictStr
from pydantic.alias_generators import to_camel

from apex_mediation.accounts import publishers, sessions, throttle, users
from apex_mediation.accounts.errors import AuthenticationFailed
from apex_mediation.accounts.passwords import MAX_LENGTH
from apex_mediation.api.deps import ServicesDep, SessionDep, client_ip
from apex_mediation.api.errors import error_response
from apex_mediation.api.schemas import MeOut, Out, PublisherOut
from apex_mediation.billing import runtime as billing_runtime
from apex_mediation.services import Services

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


class SecondStepIn(_In):
    challenge_token: Annotated[StrictStr, Field(min_length=1, max_length=128)]
    code: Annotated[StrictStr | None, Field(max_length=16)] = None
    recovery_code: Annotated[StrictStr | None, Field(max_length=64)] = None


class SecondStepOut(Out):
    two_factor_required: bool = True
    challenge_token: str
    expires_at: dt.datetime


def set_session_cookie(
    response: Response, services: Services, opened: sessions.OpenedSession
) -> None:
    response.set_cookie(
        sessions.COOKIE_NAME,
        opened.token,
        httponly=True,
        samesite="lax",
        secure=services.settings.cookie_secure,
        expires=opened.expires_at,
        path="/",
    )


async def open_for(
    request: Request,
    response: Response,
    session: SessionDep,
    services: Services,
    user_id: uuid.UUID,
) -> sessions.OpenedSession:
    """A fresh session id for this browser (the one it had, if any, ends) and its cookie."""
    opened = await sessions.rotate(
        session,
        request.cookies.get(sessions.COOKIE_NAME),
        user_id,
        ttl=dt.timedelta(hours=services.settings.session_ttl_hours),
        ip=client_ip(request),
    )
    set_session_cookie(response, services, opened)
    return opened


def locked_response(exc: throttle.LockedOut) -> JSONResponse:
    return error_response(429, exc.message, headers={"Retry-After": str(exc.retry_after)})


async def _me(
    session: SessionDep, user_id: uuid.UUID, email: str, operator: bool, csrf: str | None
) -> MeOut:
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
    opened = await open_for(request, response, session, services, created.owner.id)
    return await _me(session, created.owner.id, created.owner.email, False, opened.csrf_token)


@router.post(
    "/login",
    response_model=MeOut | SecondStepOut,
    responses={202: {"model": SecondStepOut}, 429: {"description": "too many failed attempts"}},
)
async def login(
    body: LoginIn, request: Request, response: Response, session: SessionDep, services: ServicesDep
) -> MeOut | SecondStepOut | JSONResponse:
    """200 and a session; or, with two-factor authentication on, 202 and a challenge token to
    redeem at /login/second-step within 5 minutes. 429 while the account is locked."""
    try:
        outcome = await users.log_in(session, body.email, body.password, ip=client_ip(request))
    except throttle.LockedOut as exc:
        return locked_response(exc)
    user = outcome.user
    if outcome.second_step is not None:
        response.status_code = 202
        step = outcome.second_step
        return SecondStepOut(challenge_token=step.token, expires_at=step.expires_at)
    opened = await open_for(request, response, session, services, user.id)
    return await _me(session, user.id, user.email, user.is_platform_operator, opened.csrf_token)


@router.post("/login/second-step", response_model=MeOut, responses={429: {}})
async def login_second_step(
    body: SecondStepIn,
    request: Request,
    response: Response,
    session: SessionDep,
    services: ServicesDep,
) -> MeOut | JSONResponse:
    """Finish a login with a code from the authenticator app (`code`) or a recovery code."""
    try:
        user = await users.complete_second_step(
            session,
            services.settings.secret,
            body.challenge_token,
            code=body.code,
            recovery_code=body.recovery_code,
            ip=client_ip(request),
        )
    except throttle.LockedOut as exc:
        return locked_response(exc)
    opened = await open_for(request, response, session, services, user.id)
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

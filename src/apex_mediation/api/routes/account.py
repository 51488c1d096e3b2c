"""`/api/v1/account`: the logged-in person's own security — password and two-factor
authentication. Only a console session may call these (never an API key), with its CSRF token.

A password change ends every session of the user and opens a fresh one for this browser; turning
two-factor authentication on or off rotates this browser's session id. Responses that rotate
carry the new session's CSRF token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from pydantic.alias_generators import to_camel

from apex_mediation.accounts import throttle, two_factor, users
from apex_mediation.accounts.passwords import MAX_LENGTH
from apex_mediation.api.deps import LoggedInDep, ServicesDep, SessionDep, client_ip
from apex_mediation.api.routes.auth import locked_response, open_for
from apex_mediation.api.schemas import Out

router = APIRouter(prefix="/api/v1/account", tags=["account"])


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)


Password = Annotated[StrictStr, Field(max_length=MAX_LENGTH)]
Code = Annotated[StrictStr, Field(min_length=1, max_length=64)]


class PasswordChangeIn(_In):
    current_password: Password
    new_password: Password


class CodeIn(_In):
    code: Code


class DisableIn(_In):
    password: Password
    code: Code


class SecurityOut(Out):
    two_factor_enabled: bool
    two_factor_pending: bool
    recovery_codes_left: int


class EnrolmentOut(Out):
    secret: str
    otpauth_uri: str


class RotatedOut(Out):
    csrf_token: str


class RecoveryCodesOut(Out):
    recovery_codes: list[str]
    csrf_token: str


@router.get("/security", response_model=SecurityOut)
async def security(me: LoggedInDep, session: SessionDep) -> SecurityOut:
    found = await two_factor.status(session, me.user.id)
    return SecurityOut(
        two_factor_enabled=found.enabled,
        two_factor_pending=found.pending,
        recovery_codes_left=found.recovery_codes_left,
    )


@router.post("/password", response_model=RotatedOut, responses={429: {}})
async def change_password(
    body: PasswordChangeIn,
    request: Request,
    response: Response,
    me: LoggedInDep,
    session: SessionDep,
    services: ServicesDep,
) -> RotatedOut | JSONResponse:
    try:
        await users.change_password(
            session, me.user, body.current_password, body.new_password, ip=client_ip(request)
        )
    except throttle.LockedOut as exc:
        return locked_response(exc)
    opened = await open_for(request, response, session, services, me.user.id)
    return RotatedOut(csrf_token=opened.csrf_token)


@router.post("/two-factor/enrolment", status_code=201, response_model=EnrolmentOut)
async def enrol(me: LoggedInDep, session: SessionDep, services: ServicesDep) -> EnrolmentOut:
    """A new authenticator secret; confirm it with a code before it is turned on."""
    enrolment = await two_factor.begin_enrolment(session, services.settings.secret, me.user)
    return EnrolmentOut(secret=enrolment.secret, otpauth_uri=enrolment.uri)


@router.post("/two-factor/confirm", response_model=RecoveryCodesOut, responses={429: {}})
async def confirm(
    body: CodeIn,
    request: Request,
    response: Response,
    me: LoggedInDep,
    session: SessionDep,
    services: ServicesDep,
) -> RecoveryCodesOut | JSONResponse:
    """Turn two-factor on; the ten recovery codes are in this response only."""
    try:
        codes = await two_factor.confirm(
            session, services.settings.secret, me.user, body.code, ip=client_ip(request)
        )
    except throttle.LockedOut as exc:
        return locked_response(exc)
    opened = await open_for(request, response, session, services, me.user.id)
    return RecoveryCodesOut(recovery_codes=codes, csrf_token=opened.csrf_token)


@router.post("/two-factor/disable", response_model=RotatedOut, responses={429: {}})
async def disable(
    body: DisableIn,
    request: Request,
    response: Response,
    me: LoggedInDep,
    session: SessionDep,
    services: ServicesDep,
) -> RotatedOut | JSONResponse:
    try:
        await two_factor.disable(
            session,
            services.settings.secret,
            me.user,
            password=body.password,
            code=body.code,
            ip=client_ip(request),
        )
    except throttle.LockedOut as exc:
        return locked_response(exc)
    opened = await open_for(request, response, session, services, me.user.id)
    return RotatedOut(csrf_token=opened.csrf_token)


@router.post("/two-factor/recovery-codes", response_model=RecoveryCodesOut, responses={429: {}})
async def regenerate(
    body: CodeIn, request: Request, me: LoggedInDep, session: SessionDep, services: ServicesDep
) -> RecoveryCodesOut | JSONResponse:
    """Ten new recovery codes (the earlier ones stop working), confirmed by a current code."""
    try:
        codes = await two_factor.regenerate_recovery_codes(
            session, services.settings.secret, me.user, code=body.code, ip=client_ip(request)
        )
    except throttle.LockedOut as exc:
        return locked_response(exc)
    return RecoveryCodesOut(recovery_codes=codes, csrf_token=me.csrf_token)

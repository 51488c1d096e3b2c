"""Signup, login, logout and choosing the publisher a member of several is looking at."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request, Response
from pydantic import EmailStr, TypeAdapter, ValidationError

from apex_mediation.accounts import publishers, sessions, throttle, users
from apex_mediation.accounts.errors import AuthenticationFailed, DomainError, InvalidInput
from apex_mediation.api.deps import ServicesDep, SessionDep, client_ip
from apex_mediation.billing import runtime as billing_runtime
from apex_mediation.console.rendering import ConsoleRoute, redirect, render
from apex_mediation.console.viewer import PUBLISHER_COOKIE, ViewerDep
from apex_mediation.services import Services

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
_EMAIL = TypeAdapter(EmailStr)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to another host."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/dashboard"


async def start_session(
    request: Request,
    session: SessionDep,
    services: Services,
    user_id: uuid.UUID,
    target: str,
    publisher_id: uuid.UUID | None = None,
) -> Response:
    """Log the user in with a fresh session and go to `target` (optionally on a publisher)."""
    response = redirect(target)
    await rotate_session(request, response, session, services, user_id)
    if publisher_id is not None:
        response.set_cookie(
            PUBLISHER_COOKIE, str(publisher_id), httponly=True, samesite="lax", path="/"
        )
    return response


async def rotate_session(
    request: Request,
    response: Response,
    session: SessionDep,
    services: Services,
    user_id: uuid.UUID,
) -> sessions.OpenedSession:
    """A new session id for this browser (its old one ends), set on `response`."""
    opened = await sessions.rotate(
        session,
        request.cookies.get(sessions.COOKIE_NAME),
        user_id,
        ttl=dt.timedelta(hours=services.settings.session_ttl_hours),
        ip=client_ip(request),
    )
    response.set_cookie(
        sessions.COOKIE_NAME,
        opened.token,
        httponly=True,
        samesite="lax",
        secure=services.settings.cookie_secure,
        expires=opened.expires_at,
        path="/",
    )
    return opened


@router.get("/")
async def root(request: Request) -> Response:
    signed_in = sessions.COOKIE_NAME in request.cookies
    return redirect("/dashboard" if signed_in else "/login")


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", {"next": _safe_next(next)})


@router.post("/login")
async def login(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    try:
        outcome = await users.log_in(session, email, password, ip=client_ip(request))
    except AuthenticationFailed as exc:
        status = 429 if isinstance(exc, throttle.LockedOut) else 401
        context = {"error": exc.message, "email": email, "next": next}
        return render(request, "login.html", context, status_code=status)
    if outcome.second_step is not None:
        context = {"challenge": outcome.second_step.token, "next": _safe_next(next)}
        return render(request, "login_second_step.html", context)
    return await start_session(request, session, services, outcome.user.id, _safe_next(next))


@router.post("/login/second-step")
async def login_second_step(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    challenge: Annotated[str, Form(max_length=128)],
    code: Annotated[str, Form(max_length=16)] = "",
    recovery_code: Annotated[str, Form(max_length=64)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """The code from the authenticator app, or a recovery code, after a right password."""
    try:
        user = await users.complete_second_step(
            session,
            services.settings.secret,
            challenge,
            code=code.strip() or None,
            recovery_code=recovery_code.strip() or None,
            ip=client_ip(request),
        )
    except InvalidInput as exc:  # a wrong code: the same challenge may try again
        context = {"challenge": challenge, "next": _safe_next(next), "error": exc.message}
        return render(request, "login_second_step.html", context, 401)
    except AuthenticationFailed as exc:  # expired, used up or locked: start again
        status = 429 if isinstance(exc, throttle.LockedOut) else 401
        return render(request, "login.html", {"error": exc.message, "next": next}, status)
    return await start_session(request, session, services, user.id, _safe_next(next))


@router.get("/signup")
async def signup_form(request: Request) -> Response:
    return render(request, "signup.html")


@router.post("/signup")
async def signup(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    publisher_name: Annotated[str, Form(max_length=200)],
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
    background: BackgroundTasks,
) -> Response:
    context = {"publisher_name": publisher_name, "email": email}
    try:
        address = str(_EMAIL.validate_python(email.strip()))
        if not publisher_name.strip():
            raise DomainError("a publisher name is required", field="publisher name")
        created = await publishers.create_publisher(
            session,
            name=publisher_name.strip(),
            owner_email=address,
            owner_password=password,
            trial_days=services.settings.trial_days,
        )
    except ValidationError:
        return render(request, "signup.html", {**context, "error": "email: not an address"}, 400)
    except DomainError as exc:
        message = f"{exc.field}: {exc.message}" if exc.field else exc.message
        return render(request, "signup.html", {**context, "error": message}, 400)
    background.add_task(billing_runtime.create_customer, request.app, created.publisher.id)
    return await start_session(request, session, services, created.owner.id, "/apps?welcome=1")


@router.post("/logout")
async def logout(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    token = request.cookies.get(sessions.COOKIE_NAME)
    if token:
        await sessions.close_session(session, token)
    response = redirect("/login")
    response.delete_cookie(sessions.COOKIE_NAME, path="/")
    response.delete_cookie(PUBLISHER_COOKIE, path="/")
    return response


@router.post("/publisher")
async def choose_publisher(
    viewer: ViewerDep, publisher_id: Annotated[str, Form(max_length=64)]
) -> Response:
    if not any(str(p.id) == publisher_id for p, _ in viewer.memberships):
        raise AuthenticationFailed("not a member of that publisher")
    response = redirect("/dashboard")
    response.set_cookie(PUBLISHER_COOKIE, publisher_id, httponly=True, samesite="lax", path="/")
    return response

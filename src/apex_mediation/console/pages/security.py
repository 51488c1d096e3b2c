"""Settings → Security: the viewer's password and two-factor authentication.

Setting up two-factor shows the secret as a QR code (inline SVG, drawn by segno) and as text,
and turns on only when a code from the app confirms it; the recovery codes are shown once, on
the page that answers the confirmation or their regeneration. Changing the password signs out
every other session; turning two-factor on or off gives this browser a new session id.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Form, Request, Response

from apex_mediation.accounts import throttle, two_factor, users
from apex_mediation.accounts.errors import Conflict, InvalidInput
from apex_mediation.accounts.passwords import MAX_LENGTH, MIN_LENGTH
from apex_mediation.api.deps import ServicesDep, SessionDep
from apex_mediation.console.pages.auth import rotate_session
from apex_mediation.console.rendering import ConsoleRoute, form_error, redirect, render
from apex_mediation.console.viewer import Viewer, ViewerDep
from apex_mediation.db.models import User

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE = "settings/security.html"
CODES_PAGE = "settings/recovery_codes.html"
FLASHES = {
    "password": "Password changed. Every other session of your account was signed out.",
    "2fa-off": "Two-factor authentication is off.",
}


def qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG QR code. The template may mark it safe: the URI is
    drawn as path data, never written as text, and the title is ours."""
    svg: str = segno.make(uri, error="m").svg_inline(scale=4, title="Two-factor set-up QR code")
    return svg


async def _context(
    session: SessionDep, services: ServicesDep, viewer: Viewer, **extra: Any
) -> dict[str, Any]:
    user = await users.get_user(session, viewer.user_id)
    found = await two_factor.status(session, viewer.user_id)
    pending = await two_factor.pending_enrolment(session, services.settings.secret, user)
    return {
        "viewer": viewer,
        "tab": "security",
        "status": found,
        "enrolment": pending,
        "qr": qr_svg(pending.uri) if pending else None,
        "min_length": MIN_LENGTH,
        **extra,
    }


async def _form_error(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    viewer: Viewer,
    exc: InvalidInput | Conflict | throttle.LockedOut,
    form: str,
) -> Response:
    status = (
        429 if isinstance(exc, throttle.LockedOut) else 409 if isinstance(exc, Conflict) else 400
    )
    context = await _context(session, services, viewer, error=form_error(exc), form=form)
    return render(request, PAGE, context, status)


@router.get("/settings/security")
async def security_page(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    services: ServicesDep,
    done: str | None = None,
) -> Response:
    context = await _context(session, services, viewer, flash=FLASHES.get(done or ""))
    return render(request, PAGE, context)


@router.post("/settings/security/password")
async def change_password(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    services: ServicesDep,
    current_password: Annotated[str, Form(max_length=MAX_LENGTH)],
    new_password: Annotated[str, Form(max_length=MAX_LENGTH)],
    new_password_confirm: Annotated[str, Form(max_length=MAX_LENGTH)],
) -> Response:
    user = await users.get_user(session, viewer.user_id)
    try:
        if new_password != new_password_confirm:
            raise InvalidInput("the two new passwords differ", field="newPassword")
        await users.change_password(
            session, user, current_password, new_password, ip=viewer.actor.ip
        )
    except (InvalidInput, throttle.LockedOut) as exc:
        return await _form_error(request, session, services, viewer, exc, "password")
    response = redirect("/settings/security?done=password")
    await rotate_session(request, response, session, services, viewer.user_id)
    return response


@router.post("/settings/security/two-factor/enrol")
async def enrol(viewer: ViewerDep, session: SessionDep, services: ServicesDep) -> Response:
    user = await users.get_user(session, viewer.user_id)
    await two_factor.begin_enrolment(session, services.settings.secret, user)
    return redirect("/settings/security#set-up")


async def _show_codes(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    viewer: Viewer,
    codes: list[str],
    *,
    rotate: bool,
) -> Response:
    """The codes, once; with `rotate`, on a new session whose CSRF token the page carries."""
    cookies = Response()
    if rotate:
        opened = await rotate_session(request, cookies, session, services, viewer.user_id)
        viewer = dataclasses.replace(viewer, csrf_token=opened.csrf_token)
    page = render(request, CODES_PAGE, {"viewer": viewer, "tab": "security", "codes": codes})
    for value in cookies.headers.getlist("set-cookie"):
        page.headers.append("set-cookie", value)
    return page


@router.post("/settings/security/two-factor/confirm")
async def confirm(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    services: ServicesDep,
    code: Annotated[str, Form(max_length=16)],
) -> Response:
    user = await users.get_user(session, viewer.user_id)
    try:
        codes = await two_factor.confirm(
            session, services.settings.secret, user, code, ip=viewer.actor.ip
        )
    except (InvalidInput, Conflict, throttle.LockedOut) as exc:
        return await _form_error(request, session, services, viewer, exc, "confirm")
    return await _show_codes(request, session, services, viewer, codes, rotate=True)


@router.post("/settings/security/two-factor/disable")
async def disable(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    services: ServicesDep,
    password: Annotated[str, Form(max_length=MAX_LENGTH)],
    code: Annotated[str, Form(max_length=64)],
) -> Response:
    user: User = await users.get_user(session, viewer.user_id)
    try:
        await two_factor.disable(
            session,
            services.settings.secret,
            user,
            password=password,
            code=code,
            ip=viewer.actor.ip,
        )
    except (InvalidInput, Conflict, throttle.LockedOut) as exc:
        return await _form_error(request, session, services, viewer, exc, "disable")
    response = redirect("/settings/security?done=2fa-off")
    await rotate_session(request, response, session, services, viewer.user_id)
    return response


@router.post("/settings/security/two-factor/recovery-codes")
async def regenerate(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    services: ServicesDep,
    code: Annotated[str, Form(max_length=16)],
) -> Response:
    user = await users.get_user(session, viewer.user_id)
    try:
        codes = await two_factor.regenerate_recovery_codes(
            session, services.settings.secret, user, code=code, ip=viewer.actor.ip
        )
    except (InvalidInput, Conflict, throttle.LockedOut) as exc:
        return await _form_error(request, session, services, viewer, exc, "regenerate")
    return await _show_codes(request, session, services, viewer, codes, rotate=False)

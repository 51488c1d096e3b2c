"""Accepting an invitation from its emailed link.

The link page is public: a visitor logged in with the invited address gets a button to join; a
visitor with another account is told which address the invitation is for; otherwise the page
offers a log-in link (the address has an account) or a password form that creates the account
(the link proves the address). Joining with a session is CSRF-checked; the signup form is
protected by the secret link itself.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response

from apex_mediation.accounts import invitations, sessions
from apex_mediation.accounts.errors import Conflict, InvalidInput
from apex_mediation.accounts.passwords import MAX_LENGTH, MIN_LENGTH
from apex_mediation.accounts.tokens import LinkInvalid
from apex_mediation.api.deps import ServicesDep, SessionDep, client_ip
from apex_mediation.console.pages.auth import start_session
from apex_mediation.console.pages.password_reset import invalid_link
from apex_mediation.console.pages.settings import ROLE_LABELS
from apex_mediation.console.rendering import ConsoleRoute, form_error, redirect, render
from apex_mediation.console.viewer import PUBLISHER_COOKIE, ViewerDep
from apex_mediation.db.models import User

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
TEMPLATE = "settings/invitation.html"
INVALID = "settings/invitation_invalid.html"


async def _signed_in(request: Request, session: SessionDep) -> tuple[User, str] | None:
    token = request.cookies.get(sessions.COOKIE_NAME)
    resolved = await sessions.resolve(session, token) if token else None
    return (resolved[0], resolved[1].csrf_token) if resolved else None


async def _page(
    request: Request, session: SessionDep, token: str, status: int = 200, **extra: Any
) -> Response:
    try:
        pending = await invitations.lookup(session, token)
    except LinkInvalid as exc:
        return invalid_link(request, exc, INVALID)
    signed_in = await _signed_in(request, session)
    context = {
        "token": token,
        "pending": pending,
        "role_label": ROLE_LABELS.get(pending.invitation.role, pending.invitation.role),
        "user_email": signed_in[0].email if signed_in else None,
        "csrf_token": signed_in[1] if signed_in else None,
        "min_length": MIN_LENGTH,
        **extra,
    }
    return render(request, TEMPLATE, context, status)


@router.get("/invitations/{token}")
async def invitation_page(request: Request, session: SessionDep, token: str) -> Response:
    return await _page(request, session, token)


@router.post("/invitations/{token}/accept")
async def accept(request: Request, session: SessionDep, viewer: ViewerDep, token: str) -> Response:
    user = await session.get(User, viewer.user_id)
    assert user is not None  # the session resolved to this user
    try:
        invitation = await invitations.accept(session, token, user, ip=client_ip(request))
    except LinkInvalid as exc:
        return invalid_link(request, exc, INVALID)
    response = redirect("/dashboard")
    response.set_cookie(
        PUBLISHER_COOKIE, str(invitation.publisher_id), httponly=True, samesite="lax", path="/"
    )
    return response


@router.post("/invitations/{token}/signup")
async def signup(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    token: str,
    password: Annotated[str, Form(max_length=MAX_LENGTH)],
) -> Response:
    try:
        user, invitation = await invitations.accept_with_signup(
            session, token, password, ip=client_ip(request)
        )
    except LinkInvalid as exc:
        return invalid_link(request, exc, INVALID)
    except (InvalidInput, Conflict) as exc:
        return await _page(request, session, token, 400, error=form_error(exc))
    return await start_session(
        request, session, services, user.id, "/dashboard", invitation.publisher_id
    )

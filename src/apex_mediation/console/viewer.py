"""Who is looking at a console page: the session behind the cookie, its CSRF token and the
publisher being viewed. State-changing requests must carry the session's CSRF token, as a form
field (`csrf_token`) or, from htmx, the `X-CSRF-Token` header."""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from apex_mediation.accounts import publishers, sessions
from apex_mediation.accounts.errors import PermissionDenied
from apex_mediation.accounts.identity import Actor
from apex_mediation.api.deps import SAFE_METHODS, SessionDep, client_ip
from apex_mediation.billing import access
from apex_mediation.db.models import Publisher

PUBLISHER_COOKIE = sessions.PUBLISHER_COOKIE_NAME


class LoginRequired(Exception):
    """No valid session: the page redirects to the login form, then back."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass(frozen=True)
class Viewer:
    actor: Actor
    user_id: uuid.UUID
    email: str
    csrf_token: str
    memberships: list[tuple[Publisher, str]]
    is_operator: bool
    billing_status: str | None = None  # past_due / restricted show a banner on every page

    @property
    def publisher_id(self) -> uuid.UUID | None:
        return self.actor.publisher_id

    @property
    def publisher_name(self) -> str | None:
        return next((p.name for p, _ in self.memberships if p.id == self.publisher_id), None)

    @property
    def role(self) -> str | None:
        return self.actor.role

    def can(self, minimum: str) -> bool:
        try:
            self.actor.require_role(minimum)
        except PermissionDenied:
            return False
        return True


async def check_csrf(request: Request, expected: str) -> None:
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get("x-csrf-token", "")
    if not sent and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = str((await request.form()).get("csrf_token", ""))
    if not sent or not hmac.compare_digest(sent, expected):
        raise PermissionDenied("the form expired or did not come from this site; reload the page")


async def current_viewer(request: Request, session: SessionDep) -> Viewer:
    token = request.cookies.get(sessions.COOKIE_NAME)
    resolved = await sessions.resolve(session, token) if token else None
    if resolved is None:
        raise LoginRequired(request.url.path)
    user, console_session = resolved
    await check_csrf(request, console_session.csrf_token)
    mine = await publishers.memberships(session, user.id)
    chosen = sessions.choose_membership(request.cookies.get(PUBLISHER_COOKIE), mine)
    actor = Actor(
        kind="user",
        id=str(user.id),
        publisher_id=chosen[0].id if chosen else None,
        role=chosen[1] if chosen else None,
        is_platform_operator=user.is_platform_operator,
        ip=client_ip(request),
    )
    status = await access.billing_status(session, actor.publisher_id)
    if request.method not in SAFE_METHODS and not user.is_platform_operator:
        access.check_change_allowed(status, request.url.path)
    return Viewer(
        actor=actor,
        user_id=user.id,
        email=user.email,
        csrf_token=console_session.csrf_token,
        memberships=mine,
        is_operator=user.is_platform_operator,
        billing_status=status,
    )


ViewerDep = Annotated[Viewer, Depends(current_viewer)]


async def operator_viewer(viewer: ViewerDep) -> Viewer:
    if not viewer.is_operator:
        raise PermissionDenied("the operator area is for platform operators")
    return viewer


OperatorDep = Annotated[Viewer, Depends(operator_viewer)]

"""Unsubscribe links from notification emails. The signed token is the credential, so neither
form needs a session or a CSRF token; a forged POST could only do what the link already allows.

GET only shows a confirmation form (mail scanners follow links, and must not unsubscribe
anyone); POST turns that kind of email off. Mail clients POST to the same URL with the body
`List-Unsubscribe=One-Click` (RFC 8058), the token then being in the query string.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from apex_mediation.accounts import notifications
from apex_mediation.api.deps import ServicesDep, SessionDep, client_ip
from apex_mediation.console.pages.settings import NOTIFICATIONS
from apex_mediation.console.rendering import ConsoleRoute, render
from apex_mediation.notify import unsubscribe
from apex_mediation.notify.unsubscribe import BadToken
from apex_mediation.services import Services

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
LABELS = {value: label for value, label, _ in NOTIFICATIONS}
MAX_TOKEN_LENGTH = 256


def _read(services: Services, token: str | None) -> tuple[uuid.UUID, notifications.Kind]:
    if not token:
        raise BadToken("the link has no token (it may have been cut when copied)")
    if len(token) > MAX_TOKEN_LENGTH:
        raise BadToken("the link is longer than any link we send")
    return unsubscribe.read_token(services.settings.secret, token)


def _invalid(request: Request, exc: BadToken) -> Response:
    return render(request, "notifications/unsubscribe_invalid.html", {"message": str(exc)}, 400)


@router.get(unsubscribe.PATH)
async def confirm(request: Request, services: ServicesDep, t: str | None = None) -> Response:
    try:
        _, kind = _read(services, t)
    except BadToken as exc:
        return _invalid(request, exc)
    context = {"token": t, "label": LABELS[kind], "action": unsubscribe.PATH}
    return render(request, "notifications/unsubscribe.html", context)


@router.post(unsubscribe.PATH)
async def unsubscribe_now(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    t: str | None = None,
    form_token: Annotated[str | None, Form(alias="t")] = None,
) -> Response:
    try:
        user_id, kind = _read(services, form_token or t)
    except BadToken as exc:
        return _invalid(request, exc)
    await notifications.unsubscribe(session, user_id, kind, ip=client_ip(request))
    return render(request, "notifications/unsubscribed.html", {"label": LABELS[kind]})

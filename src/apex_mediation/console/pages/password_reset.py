"""Password reset by email: ask for a link, then choose a new password from it.

The request form answers the same page whatever the address, and the email leaves in a
background task after the response, so neither the page nor its timing tells whether an account
exists. Requests per address are throttled. The links themselves are the proof of ownership,
so these public forms need no session (or CSRF token).
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request, Response

from apex_mediation.accounts import password_reset
from apex_mediation.accounts.errors import InvalidInput
from apex_mediation.accounts.passwords import MAX_LENGTH, MIN_LENGTH
from apex_mediation.accounts.tokens import LinkInvalid
from apex_mediation.api.deps import ServicesDep, SessionDep, client_ip
from apex_mediation.console.pages.auth import start_session
from apex_mediation.console.rendering import ConsoleRoute, render
from apex_mediation.notify import mail, messages
from apex_mediation.services import Services

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
# Per address and client IP: enough to retry, too few to flood someone's inbox. Keyed by the IP
# too, so that someone else sending the victim's address cannot use up the victim's own tries.
REQUESTS_PER_HOUR = 5
REQUESTS_PER_HOUR_PER_IP = 30  # across addresses: one client cannot mail many inboxes


def invalid_link(request: Request, exc: LinkInvalid, template: str) -> Response:
    status = 404 if exc.reason == "unknown" else 410
    return render(request, template, {"reason": exc.reason, "message": exc.message}, status)


async def _under_limit(services: Services, email: str, ip: str) -> bool:
    digest = hashlib.sha256(f"{email.strip().lower()}\n{ip}".encode()).hexdigest()[:32]
    per_address = await services.cache.hit_window(f"password-reset:{digest}", 3600.0)
    per_ip = await services.cache.hit_window(f"password-reset-ip:{ip}", 3600.0)
    return per_address <= REQUESTS_PER_HOUR and per_ip <= REQUESTS_PER_HOUR_PER_IP


@router.get("/password-reset")
async def request_form(request: Request) -> Response:
    return render(request, "password_reset/request.html")


@router.post("/password-reset")
async def request_link(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    background: BackgroundTasks,
    email: Annotated[str, Form(max_length=254)],
) -> Response:
    if "@" not in email:
        context = {"email": email, "error": "email: not an address"}
        return render(request, "password_reset/request.html", context, 400)
    if await _under_limit(services, email, client_ip(request) or "-"):
        issued = await password_reset.request_reset(session, email, ip=client_ip(request))
        if issued is not None:
            url = messages.link(services.settings.base_url, f"/password-reset/{issued.token}")
            minutes = int(password_reset.RESET_TTL.total_seconds() // 60)
            message = messages.password_reset(issued.email, url, minutes)
            background.add_task(mail.deliver, services.settings, message)
    return render(request, "password_reset/sent.html", {"email": email.strip()})


@router.get("/password-reset/done")
async def done(request: Request) -> Response:
    """After a reset: the new session is open, every other one was closed."""
    return render(request, "password_reset/done.html")


@router.get("/password-reset/{token}")
async def reset_form(request: Request, session: SessionDep, token: str) -> Response:
    try:
        await password_reset.check_link(session, token)
    except LinkInvalid as exc:
        return invalid_link(request, exc, "password_reset/invalid.html")
    return render(request, "password_reset/form.html", {"token": token, "min_length": MIN_LENGTH})


@router.post("/password-reset/{token}")
async def reset(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    token: str,
    password: Annotated[str, Form(max_length=MAX_LENGTH)],
    password_confirm: Annotated[str, Form(max_length=MAX_LENGTH)],
) -> Response:
    context = {"token": token, "min_length": MIN_LENGTH}
    if password != password_confirm:
        context["error"] = "password: the two passwords differ"
        return render(request, "password_reset/form.html", context, 400)
    try:
        user = await password_reset.complete_reset(session, token, password, ip=client_ip(request))
    except LinkInvalid as exc:
        return invalid_link(request, exc, "password_reset/invalid.html")
    except InvalidInput as exc:
        context["error"] = f"{exc.field}: {exc.message}" if exc.field else exc.message
        return render(request, "password_reset/form.html", context, 400)
    return await start_session(request, session, services, user.id, "/password-reset/done")

"""Privacy, for owners: ask for a data export and download it through its signed link while it
lasts; erase the account (confirmed with the password, after a warning that names what goes
and what billing law keeps)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Form, Request, Response

from apex_mediation.accounts import sessions
from apex_mediation.accounts.errors import DomainError, InvalidInput
from apex_mediation.api.deps import ServicesDep, SessionDep
from apex_mediation.api.routes.privacy import ingest_flusher
from apex_mediation.compliance import deferral, erasure, export, links, requests
from apex_mediation.console.rendering import ConsoleRoute, form_error, redirect, render
from apex_mediation.console.viewer import Viewer, ViewerDep
from apex_mediation.db.models import PrivacyRequest
from apex_mediation.services import Services

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
FLASHES = {"export-requested": "Export requested: it is built in the background; reload to see it."}


def _link(services: Services, request: PrivacyRequest) -> str | None:
    now = dt.datetime.now(dt.UTC)
    if request.status != "completed" or request.expires_at is None or request.expires_at <= now:
        return None
    expires = int(request.expires_at.timestamp())
    return links.sign(services.settings.secret, "", request.id, expires)


async def _context(
    session: SessionDep, services: Services, viewer: Viewer, **extra: Any
) -> dict[str, Any]:
    viewer.actor.require_role("owner")
    found = await requests.list_for(session, viewer.actor.tenant())
    return {
        "viewer": viewer,
        "tab": "privacy",
        "requests": [(r, _link(services, r)) for r in found],
        "billing_years": services.settings.billing_retention_years,
        "link_hours": services.settings.export_link_ttl_hours,
        **extra,
    }


@router.get("/settings/privacy")
async def privacy_page(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    services: ServicesDep,
    done: str | None = None,
) -> Response:
    context = await _context(session, services, viewer, flash=FLASHES.get(done or ""))
    return render(request, "privacy/privacy.html", context)


@router.post("/settings/privacy/export")
async def request_export(
    viewer: ViewerDep, session: SessionDep, services: ServicesDep, tasks: BackgroundTasks
) -> Response:
    await export.request_export(session, viewer.actor)
    tasks.add_task(deferral.defer, services)  # after the commit, as the API does
    return redirect("/settings/privacy?done=export-requested")


@router.post("/settings/privacy/erase")
async def erase_account(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    services: ServicesDep,
    password: Annotated[str, Form(max_length=256)] = "",
    confirm: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    viewer.actor.require_role("owner")
    try:
        if confirm.strip() != (viewer.publisher_name or ""):
            raise InvalidInput("type the publisher's name exactly to confirm", field="confirm")
        erased = await erasure.erase_account(
            session, services, viewer.actor, password, flush_ingest=ingest_flusher(request)
        )
    except DomainError as exc:
        context = await _context(session, services, viewer, error=form_error(exc))
        return render(request, "privacy/privacy.html", context, 400)
    response = render(request, "privacy/erased.html", {"receipt": erased.receipt})
    response.delete_cookie(sessions.COOKIE_NAME, path="/")
    return response

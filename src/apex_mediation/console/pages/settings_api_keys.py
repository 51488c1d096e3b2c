"""Settings, API keys: the management and reporting keys of the publisher API. SDK keys belong
to their app and live on the app pages, so this page neither lists nor issues them.

A new key is shown once, on the page that answers the creation form (never in a URL or a
redirect), in a box with a copy button.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response

from apex_mediation.accounts import api_keys
from apex_mediation.accounts.errors import DomainError, InvalidInput, NotFound
from apex_mediation.accounts.tenancy import get_owned
from apex_mediation.api.deps import SessionDep
from apex_mediation.console.inputs import parse_id
from apex_mediation.console.pages.settings import flash
from apex_mediation.console.rendering import ConsoleRoute, form_error, redirect, render
from apex_mediation.console.viewer import Viewer, ViewerDep
from apex_mediation.db.models import ApiKey

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
SCOPES = (
    ("management", "Management", "Apps, placements, network accounts and keys (admin rights)."),
    ("reporting", "Reporting", "Read revenue reports and auction logs."),
)
_ALLOWED = frozenset(scope for scope, _, _ in SCOPES)


def _server_keys(keys: list[ApiKey]) -> list[ApiKey]:
    return [key for key in keys if "sdk" not in key.scopes]


async def _context(session: SessionDep, viewer: Viewer, **extra: Any) -> dict[str, Any]:
    keys = await api_keys.list_keys(session, viewer.actor.tenant())
    return {
        "viewer": viewer,
        "tab": "api-keys",
        "keys": _server_keys(keys),
        "scopes": SCOPES,
        "admin": viewer.can("admin"),
        **extra,
    }


@router.get("/settings/api-keys")
async def keys_page(
    request: Request, viewer: ViewerDep, session: SessionDep, done: str | None = None
) -> Response:
    context = await _context(session, viewer, flash=flash(done))
    return render(request, "settings/api_keys.html", context)


@router.post("/settings/api-keys")
async def create_key(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    name: Annotated[str, Form(max_length=200)],
    scopes: Annotated[list[str] | None, Form()] = None,
) -> Response:
    viewer.actor.require_role("admin")
    chosen = sorted(set(scopes or []))
    try:
        if not name.strip():
            raise InvalidInput("a name is required", field="name")
        if not chosen or not set(chosen) <= _ALLOWED:
            raise InvalidInput("choose management, reporting or both", field="scopes")
        issued = await api_keys.issue(session, viewer.actor, name=name, scopes=chosen)
    except DomainError as exc:
        context = await _context(
            session, viewer, error=form_error(exc), form_name=name, form_scopes=chosen
        )
        return render(request, "settings/api_keys.html", context, 400)
    context = await _context(session, viewer, issued=issued)
    return render(request, "settings/api_keys.html", context, 201)


@router.post("/settings/api-keys/{key_id}/revoke")
async def revoke_key(viewer: ViewerDep, session: SessionDep, key_id: str) -> Response:
    viewer.actor.require_role("admin")
    key_uuid = parse_id(key_id, "API key")
    key = await get_owned(session, ApiKey, viewer.actor.tenant(), key_uuid, "API key")
    if "sdk" in key.scopes:  # managed on its app's page
        raise NotFound("API key not found")
    await api_keys.revoke(session, viewer.actor, key_uuid)
    return redirect("/settings/api-keys?done=key-revoked")

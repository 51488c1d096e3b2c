"""Apps: the list, creating one, and an app's page: its settings, SDK keys (a new key is shown
once), the integration snippet for its platform and its placements."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from apex_mediation.accounts import api_keys
from apex_mediation.accounts.errors import DomainError, InvalidInput, NotFound
from apex_mediation.api.deps import ServicesDep, SessionDep
from apex_mediation.console.inputs import form_text, page_number, parse_id
from apex_mediation.console.pages.integration import snippets
from apex_mediation.console.rendering import ConsoleRoute, form_error, redirect, render
from apex_mediation.console.viewer import Viewer, ViewerDep
from apex_mediation.db.models import App
from apex_mediation.inventory import apps, placements
from apex_mediation.inventory.pagination import MAX_PAGE_SIZE
from apex_mediation.inventory.specs import AppPatch, AppSpec
from apex_mediation.services import Services

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PLATFORMS = (
    ("android", "Android"),
    ("ios", "iOS"),
    ("unity", "Unity"),
    ("web", "Web"),
    ("ctv", "CTV"),
)
PAGE_SIZE = 50
TEST_KEY_NAME = "console ad test"  # the test tool's own short-lived keys (never listed)
FLASHES = {
    "created": "Created.",
    "saved": "Saved.",
    "deleted": "Deleted.",
    "revoked": "The key is revoked: SDKs using it are refused from now on.",
}
_LABELS = {
    "name": "name",
    "platform": "platform",
    "bundle_id": "bundle id",
    "domain": "domain",
    "allowed_origins": "allowed web origins",
    "test_mode": "test mode",
    "status": "status",
}


# -- helpers shared with the placement pages --------------------------------------------------


def flash_for(request: Request) -> str | None:
    return FLASHES.get(request.query_params.get("flash", ""))


# -- the app form ----------------------------------------------------------------------------


@dataclass
class AppForm:
    name: str = ""
    platform: str = "android"
    bundle_id: str = ""
    domain: str = ""
    origins: str = ""  # one per line
    test_mode: bool = False
    status: str = "active"

    @classmethod
    def of(cls, app: App) -> AppForm:
        return cls(
            name=app.name,
            platform=app.platform,
            bundle_id=app.bundle_id or "",
            domain=app.domain or "",
            origins="\n".join(app.allowed_origins),
            test_mode=app.test_mode,
            status=app.status,
        )

    @classmethod
    def posted(cls, data: FormData) -> AppForm:
        return cls(
            name=form_text(data, "name"),
            platform=form_text(data, "platform"),
            bundle_id=form_text(data, "bundle_id").strip(),
            domain=form_text(data, "domain").strip(),
            origins=form_text(data, "allowed_origins"),
            test_mode="test_mode" in data,
            status=form_text(data, "status"),
        )

    def origin_list(self) -> list[str]:
        return [line.strip() for line in self.origins.splitlines() if line.strip()]

    def spec(self) -> AppSpec:
        return AppSpec.model_validate(
            {
                "name": self.name,
                "platform": self.platform,
                "bundle_id": self.bundle_id or None,
                "domain": self.domain or None,
                "allowed_origins": self.origin_list(),
                "test_mode": self.test_mode,
            }
        )

    def patch(self) -> AppPatch:
        return AppPatch.model_validate(
            {
                "name": self.name,
                "bundle_id": self.bundle_id or None,
                "domain": self.domain or None,
                "allowed_origins": self.origin_list(),
                "test_mode": self.test_mode,
                "status": self.status or None,
            }
        )


def describe(exc: DomainError | ValidationError) -> str:
    """One line naming the field as the form labels it."""
    if not isinstance(exc, ValidationError):
        return form_error(exc)
    errors = exc.errors()
    if not errors:
        return "invalid input"
    loc, message = errors[0]["loc"], errors[0]["msg"].removeprefix("Value error, ")
    if not loc:  # a rule across fields: name the one it is about
        field = "domain" if "domain" in message else "bundle id" if "bundle" in message else "app"
    else:
        field = _LABELS.get(str(loc[0]), str(loc[0]))
    return f"{field}: {message}"


# -- pages -----------------------------------------------------------------------------------


@router.get("/apps")
async def app_list(
    request: Request, viewer: ViewerDep, session: SessionDep, page: str = "1"
) -> Response:
    publisher = viewer.actor.tenant()
    found = await apps.list_apps(session, publisher, page_number(page), PAGE_SIZE)
    # One query for the counts; shown only when every placement fits in it.
    listed = await placements.list_placements(session, publisher, page=1, page_size=MAX_PAGE_SIZE)
    counts: dict[uuid.UUID, int] | None = None
    if listed.total <= len(listed.items):
        counts = {}
        for view in listed.items:
            counts[view.placement.app_id] = counts.get(view.placement.app_id, 0) + 1
    context = {
        "viewer": viewer,
        "found": found,
        "counts": counts,
        "platforms": dict(PLATFORMS),
        "welcome": request.query_params.get("welcome") == "1",
        "flash": flash_for(request),
    }
    return render(request, "apps/list.html", context)


@router.get("/apps/new")
async def app_new(request: Request, viewer: ViewerDep) -> Response:
    viewer.actor.require_role("member")
    context = {"viewer": viewer, "form": AppForm(), "platforms": PLATFORMS}
    return render(request, "apps/new.html", context)


@router.post("/apps")
async def app_create(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    form = AppForm.posted(await request.form())
    try:
        spec = form.spec()
        async with session.begin_nested():
            created = await apps.create_app(session, viewer.actor, spec)
    except (InvalidInput, ValidationError) as exc:
        context = {"viewer": viewer, "form": form, "platforms": PLATFORMS, "error": describe(exc)}
        return render(request, "apps/new.html", context, 400)
    return redirect(f"/apps/{created.id}?flash=created")


async def _detail(
    request: Request,
    session: AsyncSession,
    services: Services,
    viewer: Viewer,
    app: App,
    form: AppForm,
    *,
    error: str | None = None,
    new_key: str | None = None,
    status: int = 200,
) -> Response:
    publisher = viewer.actor.tenant()
    keys = [
        key
        for key in await api_keys.list_keys(session, publisher)
        if key.app_id == app.id and key.revoked_at is None and key.name != TEST_KEY_NAME
    ]
    listed = await placements.list_placements(
        session, publisher, page=1, page_size=MAX_PAGE_SIZE, app_id=app.id
    )
    first = listed.items[0].placement if listed.items else None
    example = (str(first.id), first.format) if first else ("YOUR_PLACEMENT_ID", "interstitial")
    context: dict[str, Any] = {
        "viewer": viewer,
        "app": app,
        "form": form,
        "platforms": PLATFORMS,
        "keys": keys,
        "placements": listed.items,
        "more_placements": listed.total > len(listed.items),
        "snippets": snippets(app, services.settings.base_url, str(publisher), *example),
        "base_url": services.settings.base_url,
        "error": error,
        "new_key": new_key,
        "flash": None if error or new_key else flash_for(request),
    }
    return render(request, "apps/detail.html", context, status)


@router.get("/apps/{app_id}")
async def app_detail(
    request: Request, app_id: str, viewer: ViewerDep, session: SessionDep, services: ServicesDep
) -> Response:
    app = await apps.get_app(session, viewer.actor.tenant(), parse_id(app_id, "app"))
    return await _detail(request, session, services, viewer, app, AppForm.of(app))


@router.post("/apps/{app_id}")
async def app_update(
    request: Request, app_id: str, viewer: ViewerDep, session: SessionDep, services: ServicesDep
) -> Response:
    viewer.actor.require_role("member")
    target = parse_id(app_id, "app")
    app = await apps.get_app(session, viewer.actor.tenant(), target)
    form = AppForm.posted(await request.form())
    form.platform = app.platform  # not editable
    form.status = form.status or app.status
    try:
        patch = form.patch()
        async with session.begin_nested():
            await apps.update_app(session, viewer.actor, target, patch)
    except (InvalidInput, ValidationError) as exc:
        app = await apps.get_app(session, viewer.actor.tenant(), target)
        return await _detail(
            request, session, services, viewer, app, form, error=describe(exc), status=400
        )
    return redirect(f"/apps/{target}?flash=saved")


@router.post("/apps/{app_id}/delete")
async def app_delete(app_id: str, viewer: ViewerDep, session: SessionDep) -> Response:
    await apps.delete_app(session, viewer.actor, parse_id(app_id, "app"))
    return redirect("/apps?flash=deleted")


@router.post("/apps/{app_id}/keys")
async def key_create(
    request: Request, app_id: str, viewer: ViewerDep, session: SessionDep, services: ServicesDep
) -> Response:
    """A new SDK key for this app: on this response only, never again."""
    viewer.actor.require_role("admin")
    app = await apps.get_app(session, viewer.actor.tenant(), parse_id(app_id, "app"))
    name = form_text(await request.form(), "name").strip() or "SDK key"
    if name == TEST_KEY_NAME or len(name) > 200:
        error = "key name: choose another name (up to 200 characters)"
        form = AppForm.of(app)
        return await _detail(request, session, services, viewer, app, form, error=error, status=400)
    issued = await api_keys.issue(session, viewer.actor, name=name, scopes=["sdk"], app_id=app.id)
    return await _detail(
        request, session, services, viewer, app, AppForm.of(app), new_key=issued.secret
    )


@router.post("/apps/{app_id}/keys/{key_id}/revoke")
async def key_revoke(app_id: str, key_id: str, viewer: ViewerDep, session: SessionDep) -> Response:
    viewer.actor.require_role("admin")
    app = await apps.get_app(session, viewer.actor.tenant(), parse_id(app_id, "app"))
    key_uuid = parse_id(key_id, "API key")
    mine = await api_keys.list_keys(session, viewer.actor.tenant())
    if not any(key.id == key_uuid and key.app_id == app.id for key in mine):
        raise NotFound("API key not found")
    await api_keys.revoke(session, viewer.actor, key_uuid)
    return redirect(f"/apps/{app.id}?flash=revoked")

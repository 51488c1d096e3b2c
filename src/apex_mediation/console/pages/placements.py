"""Placements: the list (by app), creating one, and the edit form: floors, per-country floors,
timeout, auction type, the server-side bidders and the waterfall in priority order."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts.errors import InvalidInput, NotFound
from apex_mediation.api.deps import SessionDep
from apex_mediation.console.inputs import form_text, page_number, parse_id
from apex_mediation.console.pages.apps import flash_for
from apex_mediation.console.pages.network_catalog import catalog, networks_for
from apex_mediation.console.pages.placement_form import (
    KEY,
    LineRow,
    PlacementForm,
    describe,
    form_from_post,
    form_from_view,
    to_replace,
)
from apex_mediation.console.rendering import ConsoleRoute, form_error, redirect, render
from apex_mediation.console.viewer import Viewer, ViewerDep
from apex_mediation.db.models import App, NetworkAccount
from apex_mediation.inventory import apps, network_accounts, placements
from apex_mediation.inventory.pagination import MAX_PAGE_SIZE
from apex_mediation.inventory.placements import PlacementView
from apex_mediation.inventory.specs import PlacementSpec

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
FORMATS = ("banner", "interstitial", "rewarded", "native", "app_open")
AUCTION_TYPES = (("first_price", "First price"), ("second_price", "Second price"))
PAGE_SIZE = 50


async def _all_apps(session: AsyncSession, viewer: Viewer) -> list[App]:
    return (await apps.list_apps(session, viewer.actor.tenant(), 1, MAX_PAGE_SIZE)).items


@router.get("/placements")
async def placement_list(
    request: Request, viewer: ViewerDep, session: SessionDep, app_id: str = "", page: str = "1"
) -> Response:
    publisher = viewer.actor.tenant()
    chosen = parse_id(app_id, "app") if app_id else None
    found = await placements.list_placements(
        session, publisher, page=page_number(page), page_size=PAGE_SIZE, app_id=chosen
    )
    app_list = await _all_apps(session, viewer)
    context = {
        "viewer": viewer,
        "apps": app_list,
        "app_names": {a.id: a.name for a in app_list},
        "app_id": chosen,
        "found": found,
        "flash": flash_for(request),
    }
    return render(request, "placements/list.html", context)


def _new_context(viewer: Viewer, app_list: list[App], values: dict[str, str]) -> dict[str, Any]:
    return {"viewer": viewer, "apps": app_list, "formats": FORMATS, "values": values}


@router.get("/placements/new")
async def placement_new(
    request: Request, viewer: ViewerDep, session: SessionDep, app_id: str = ""
) -> Response:
    viewer.actor.require_role("member")
    values = {"app_id": app_id, "name": "", "format": "interstitial"}
    context = _new_context(viewer, await _all_apps(session, viewer), values)
    return render(request, "placements/new.html", context)


@router.post("/placements")
async def placement_create(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    data = await request.form()
    values = {name: form_text(data, name) for name in ("app_id", "name", "format")}
    try:
        try:
            owner = uuid.UUID(values["app_id"])
        except ValueError:
            raise InvalidInput("choose one of your apps", field="app") from None
        spec = PlacementSpec.model_validate(
            {"name": values["name"], "app_id": owner, "format": values["format"]}
        )
        async with session.begin_nested():
            created = await placements.create_placement(session, viewer.actor, spec)
    except (InvalidInput, ValidationError) as exc:
        context = {
            **_new_context(viewer, await _all_apps(session, viewer), values),
            "error": form_error(exc).replace("appId", "app").replace("app_id", "app"),
        }
        return render(request, "placements/new.html", context, 400)
    return redirect(f"/placements/{created.placement.id}?flash=created")


def _accounts_by_network(accounts: list[NetworkAccount]) -> dict[str, list[NetworkAccount]]:
    by_network: dict[str, list[NetworkAccount]] = {}
    for account in accounts:
        by_network.setdefault(account.network, []).append(account)
    return by_network


async def _accounts(session: AsyncSession, viewer: Viewer) -> dict[str, list[NetworkAccount]]:
    listed = await network_accounts.list_accounts(session, viewer.actor.tenant(), 1, MAX_PAGE_SIZE)
    return _accounts_by_network(listed.items)


def _line_context(accounts: dict[str, list[NetworkAccount]]) -> dict[str, Any]:
    return {
        "catalog": catalog(),
        "accounts": accounts,
        "bidding_networks": networks_for("bid"),
        "waterfall_networks": networks_for("wf"),
    }


async def _edit_page(
    request: Request,
    session: SessionDep,
    viewer: Viewer,
    view: PlacementView,
    form: PlacementForm,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    publisher = viewer.actor.tenant()
    context = {
        "viewer": viewer,
        "placement": view.placement,
        "app": await apps.get_app(session, publisher, view.placement.app_id),
        "form": form,
        "formats": FORMATS,
        "auction_types": AUCTION_TYPES,
        "can_edit": viewer.can("member"),
        "error": error,
        "flash": None if error else flash_for(request),
        **_line_context(await _accounts(session, viewer)),
    }
    return render(request, "placements/edit.html", context, status)


@router.get("/placements/line-fields")
async def line_fields(
    request: Request, viewer: ViewerDep, session: SessionDep, kind: str = "", key: str = ""
) -> Response:
    """The part of a line that depends on its network (htmx, when the network changes): the
    accounts of that network and the params its adapter declares."""
    if kind not in ("bid", "wf") or not KEY.match(key):
        raise NotFound("no such line")
    row = LineRow("bid" if kind == "bid" else "wf", key)
    network = request.query_params.get(f"{row.prefix}-network", "")
    allowed = {n.name for n in networks_for(row.kind)}
    row.network = network if network in allowed else ""
    context = {"row": row, **_line_context(await _accounts(session, viewer))}
    return render(request, "placements/line_fields.html", context)


@router.get("/placements/{placement_id}")
async def placement_edit(
    request: Request, placement_id: str, viewer: ViewerDep, session: SessionDep
) -> Response:
    view = await placements.get_placement(
        session, viewer.actor.tenant(), parse_id(placement_id, "placement")
    )
    return await _edit_page(request, session, viewer, view, form_from_view(view))


@router.post("/placements/{placement_id}")
async def placement_save(
    request: Request, placement_id: str, viewer: ViewerDep, session: SessionDep
) -> Response:
    viewer.actor.require_role("member")
    publisher = viewer.actor.tenant()
    target = parse_id(placement_id, "placement")
    view = await placements.get_placement(session, publisher, target)
    form = form_from_post(await request.form())
    try:
        spec = to_replace(form)
        async with session.begin_nested():
            await placements.replace_placement(session, viewer.actor, target, spec)
    except (InvalidInput, ValidationError) as exc:
        view = await placements.get_placement(session, publisher, target)
        message = describe(exc, form)
        return await _edit_page(
            request, session, viewer, view, form.with_blanks(), error=message, status=400
        )
    return redirect(f"/placements/{target}?flash=saved")


@router.post("/placements/{placement_id}/delete")
async def placement_delete(placement_id: str, viewer: ViewerDep, session: SessionDep) -> Response:
    target = parse_id(placement_id, "placement")
    view = await placements.get_placement(session, viewer.actor.tenant(), target)
    await placements.delete_placement(session, viewer.actor, target)
    return redirect(f"/placements?app_id={view.placement.app_id}&flash=deleted")

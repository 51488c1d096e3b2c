"""The auction inspector: recent auctions, a lookup by auction id or SDK request id, and one
auction with every candidate's outcome, price, rank and reason, and its receipt, which can be
re-checked here (hash, signature, and the link to the receipt before it).

Everything is read through the publisher-filtered reporting layer: another publisher's auction
id is not found, exactly like a missing one.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts.errors import InvalidInput, NotFound
from apex_mediation.api.deps import ServicesDep, SessionDep
from apex_mediation.console.pages.reports import inventory_names
from apex_mediation.console.rendering import ConsoleRoute, redirect, render
from apex_mediation.console.viewer import Viewer, ViewerDep
from apex_mediation.reporting import inspector, transparency
from apex_mediation.services import Services
from apex_mediation.tracking import receipts

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE_SIZE = 50
MAX_KEY = 128  # SDK request ids are cut to 128 characters
_FAILED = frozenset({"error", "timeout", "circuit_open"})


@dataclass(frozen=True)
class Check:
    label: str
    ok: bool
    detail: str
    href: str | None = None


def _key(text: str, field: str) -> str:
    key = text.strip()
    if not key or len(key) > MAX_KEY:
        raise InvalidInput(f"give an id of 1 to {MAX_KEY} characters", field=field)
    return key


def _placement(text: str) -> uuid.UUID | None:
    if not text:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        raise InvalidInput("not one of your placements", field="placement") from None


@router.get("/auctions")
async def auctions(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    services: ServicesDep,
    q: str = "",
    placement: str = "",
    before: str = "",
) -> Response:
    publisher = viewer.actor.tenant()
    app_names, placement_names = await inventory_names(session, publisher)
    context: dict[str, Any] = {
        "viewer": viewer,
        "q": q[: MAX_KEY * 2],
        "placement": placement,
        "app_names": app_names,
        "placement_names": placement_names,
        "rows": [],
        "next_cursor": None,
    }
    if q.strip():
        try:
            key = _key(q, "auction or request id")
        except InvalidInput as exc:
            context["error"] = f"{exc.field}: {exc.message}"
            return render(request, "auctions/index.html", context, 400)
        found = await inspector.find(services.analytics, publisher, key)
        if len(found) == 1:
            return redirect(f"/auctions/{found[0]['auction_id']}")
        if not found:
            context["error"] = f"No auction with the auction id or request id “{key}”."
            return render(request, "auctions/index.html", context, 404)
        context.update(rows=found, searched=key)
        return render(request, "auctions/index.html", context)
    page = await inspector.recent(
        services.analytics, publisher, PAGE_SIZE, _placement(placement), before or None
    )
    context.update(rows=page.rows, next_cursor=page.next_cursor)
    return render(request, "auctions/index.html", context)


def _verdict(bid: dict[str, Any]) -> tuple[str, str]:
    """What happened to a candidate, in words, and its badge."""
    if bid["won"]:
        return "won", "ok"
    if bid["outcome"] == "bid" and bid["rank"] > 0:
        return "lost", ""
    return str(bid["outcome"]).replace("_", " "), "bad" if bid["outcome"] in _FAILED else ""


def _reason(bid: dict[str, Any]) -> str:
    if bid["reason"]:
        return str(bid["reason"])
    if bid["won"]:
        return "highest price"
    if bid["outcome"] == "bid" and bid["rank"] > 0:
        return f"lost to a higher bid (ranked {bid['rank'] + 1})"
    return ""


def _candidates(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    shown = []
    for bid in rows:
        verdict, badge = _verdict(bid)
        shown.append({**bid, "verdict": verdict, "badge": badge, "why": _reason(bid)})
    return shown


async def _detail_context(
    viewer: Viewer, session: AsyncSession, services: Services, auction_id: str
) -> dict[str, Any]:
    publisher = viewer.actor.tenant()
    if len(auction_id) > MAX_KEY:
        raise NotFound("auction not found")
    found = await inspector.auction(services.analytics, publisher, auction_id)
    if found is None:
        raise NotFound("auction not found")
    bids = await inspector.candidates(services.analytics, publisher, auction_id)
    receipt = await transparency.receipt(services.analytics, publisher, auction_id)
    app_names, placement_names = await inventory_names(session, publisher)
    body = json.loads(receipt["body"]) if receipt else None
    return {
        "viewer": viewer,
        "auction": found,
        "candidates": _candidates(bids),
        "receipt": receipt,
        "receipt_body": json.dumps(body, indent=2, sort_keys=True) if body else None,
        "receipt_candidates": len(body["candidates"]) if body else None,
        "app_name": app_names.get(found["app_id"]),
        "placement_name": placement_names.get(found["placement_id"]),
    }


@router.get("/auctions/{auction_id}")
async def auction(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    services: ServicesDep,
    auction_id: str,
) -> Response:
    context = await _detail_context(viewer, session, services, auction_id)
    return render(request, "auctions/detail.html", context)


async def verify(
    session: AsyncSession, services: Services, publisher: uuid.UUID, row: dict[str, Any]
) -> list[Check]:
    """Re-check one receipt on its own (body, hash, signature) and its link to the receipt
    before it in the placement's chain."""
    keys = await transparency.verify_keys(session)
    problem = receipts.check_receipt(row, keys)
    checks = [
        Check(
            "Hash and signature",
            problem is None,
            problem or f"the hash matches the body and the signature verifies with {row['key_id']}",
        )
    ]
    seq = int(row["seq"])
    if seq == 1:
        starts = row["prev_hash"] == receipts.GENESIS
        detail = "the first receipt of its chain, linked to the genesis hash"
        if not starts:
            detail = "the first receipt of its chain does not start from the genesis hash"
        checks.append(Check("Link to the previous receipt", starts, detail))
        return checks
    previous = await inspector.previous_receipt(
        services.analytics, publisher, str(row["placement_id"]), str(row["chain"]), seq
    )
    if previous is None:
        checks.append(Check("Link to the previous receipt", False, f"receipt {seq - 1} is missing"))
        return checks
    previous_problem = receipts.check_receipt(previous, keys)
    href = f"/auctions/{previous['auction_id']}"
    if previous_problem is not None:
        detail = f"receipt {seq - 1} does not hold: {previous_problem}"
        checks.append(Check("Link to the previous receipt", False, detail, href))
    elif previous["hash"] != row["prev_hash"]:
        detail = f"prevHash is not the hash of receipt {seq - 1}"
        checks.append(Check("Link to the previous receipt", False, detail, href))
    else:
        detail = f"prevHash is the hash of receipt {seq - 1}, which holds"
        checks.append(Check("Link to the previous receipt", True, detail, href))
    return checks


@router.get("/auctions/{auction_id}/verify")
async def verify_receipt(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    services: ServicesDep,
    auction_id: str,
) -> Response:
    """The receipt's verification: an htmx fragment, or the whole page without JavaScript."""
    publisher = viewer.actor.tenant()
    fragment = request.headers.get("hx-request") == "true"
    if fragment:
        found = await transparency.receipt(services.analytics, publisher, auction_id[:MAX_KEY])
        context: dict[str, Any] = {"viewer": viewer, "receipt": found}
    else:
        context = await _detail_context(viewer, session, services, auction_id)
    row = context["receipt"]
    if row is None:
        raise NotFound("no receipt is stored for this auction")
    checks = await verify(session, services, publisher, row)
    context.update(checks=checks, verified=all(check.ok for check in checks))
    template = "auctions/verification.html" if fragment else "auctions/detail.html"
    return render(request, template, context)

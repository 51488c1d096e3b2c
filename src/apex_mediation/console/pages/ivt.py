"""The invalid-traffic report page: how much of the publisher's traffic was invalid and why, by
reason, app, placement, network, country, format or day, with the same period and filters as
the reports page (and the same API underneath: GET /api/v1/reporting/ivt)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response

from apex_mediation.accounts.errors import InvalidInput
from apex_mediation.api.deps import ServicesDep, SessionDep
from apex_mediation.console.pages.reports import RANGES, inventory_names, parse
from apex_mediation.console.rendering import ConsoleRoute, render
from apex_mediation.console.viewer import ViewerDep
from apex_mediation.ivt.reasons import REASONS
from apex_mediation.reporting import ivt as ivt_report

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
GROUP_LABELS = {
    "reason": "Reason",
    "app": "App",
    "placement": "Placement",
    "network": "Network",
    "country": "Country",
    "format": "Format",
    "day": "Day",
}


@router.get("/reports/ivt")
async def ivt_page(
    request: Request, viewer: ViewerDep, session: SessionDep, services: ServicesDep
) -> Response:
    publisher = viewer.actor.tenant()
    app_names, placement_names = await inventory_names(session, publisher)
    group_by = request.query_params.get("group_by", "reason")
    context: dict[str, Any] = {
        "viewer": viewer,
        "ranges": RANGES,
        "groups": GROUP_LABELS,
        "group_by": group_by,
        "reasons": REASONS,
        "names": {**app_names, **placement_names},
    }
    try:
        if group_by not in GROUP_LABELS:
            raise InvalidInput(f"one of {', '.join(GROUP_LABELS)}", field="group_by")
        query = parse(request, datetime.now(UTC))
    except InvalidInput as exc:
        context.update(values={"range": "7d"}, error=f"{exc.field}: {exc.message}")
        return render(request, "reports/ivt.html", context, 400)
    result = await ivt_report.report(
        services.analytics,
        publisher,
        query.period,
        query.filters,
        group_by,  # type: ignore[arg-type]
    )
    context.update(values=query.values, report=result)
    return render(request, "reports/ivt.html", context)

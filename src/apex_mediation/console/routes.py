"""The console's routes and static files, added to the app by `install`."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from apex_mediation.console.pages import (
    ai_costs,
    auctions,
    audit_log,
    auth,
    billing,
    dashboard,
    ivt,
    network_accounts,
    operator,
    operator_growth,
    operator_incidents,
    operator_jobs,
    operator_journeys,
    operator_optimizations,
    password_reset,
    placement_test,
    reports,
    security,
    settings,
    settings_api_keys,
    unsubscribe,
)
from apex_mediation.console.pages import apps as app_pages
from apex_mediation.console.pages import invitations as invitation_pages
from apex_mediation.console.pages import placements as placement_pages
from apex_mediation.console.rendering import STATIC_DIR

ROUTERS = (
    auth.router,
    dashboard.router,
    operator.router,
    password_reset.router,
    settings.router,
    security.router,
    settings_api_keys.router,
    invitation_pages.router,
    network_accounts.router,
    ivt.router,
    reports.router,
    auctions.router,
    app_pages.router,
    placement_pages.router,
    placement_test.router,
    unsubscribe.router,
    billing.router,
    ai_costs.router,
    operator_jobs.router,
    operator_journeys.router,
    operator_growth.router,
    operator_optimizations.router,
    operator_incidents.router,
    audit_log.router,
)


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    for router in ROUTERS:
        app.include_router(router)

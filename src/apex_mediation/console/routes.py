"""The console's routes and static files, added to the app by `install`."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from apex_mediation.console.pages import auth, dashboard, operator
from apex_mediation.console.rendering import STATIC_DIR

ROUTERS = (auth.router, dashboard.router, operator.router)


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    for router in ROUTERS:
        app.include_router(router)

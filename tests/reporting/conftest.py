"""The shared app with the reporting router on it, until app.py includes it."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from apex_mediation.api.routes import reporting
from apex_mediation.app import create_app
from apex_mediation.services import Services


@pytest.fixture(scope="session")
def app(services: Services) -> FastAPI:
    """Overrides the root `app` here. No lifespan: these routes need only the stores."""
    application = create_app(services=services)
    paths = {getattr(route, "path", "") for route in application.routes}
    if f"{reporting.router.prefix}/overview" not in paths:  # once app.py includes it
        application.include_router(reporting.router)
    return application

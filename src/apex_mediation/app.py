"""Builds the ASGI app: stores opened in the lifespan, routers, middleware, error mapping."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from apex_mediation.ai.runtime import AiRuntime
from apex_mediation.api import errors
from apex_mediation.api.routes import (
    api_keys,
    apps,
    auth,
    billing,
    health,
    network_accounts,
    placements,
    reporting,
    transparency,
)
from apex_mediation.billing.runtime import BillingRuntime
from apex_mediation.console import routes as console
from apex_mediation.jobs.worker import EmbeddedWorker
from apex_mediation.observability.http_metrics import HttpMetricsMiddleware
from apex_mediation.observability.logging import RequestIdMiddleware, configure_logging
from apex_mediation.observability.refresh import MetricsRefresh
from apex_mediation.sdk import routes as sdk_routes
from apex_mediation.sdk.runtime import build_runtime
from apex_mediation.services import Services, open_services
from apex_mediation.settings import Settings, get_settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """The app; pass `services` to share already-open stores (tests), else they open at start."""
    settings = settings or (services.settings if services else get_settings())
    configure_logging(settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services or await open_services(settings)
        app.state.auction = build_runtime(app.state.services)
        try:
            open_ = app.state.services
            await app.state.auction.start(open_.postgres, open_.analytics, open_.cache)
            app.state.billing = BillingRuntime.start(open_)
            app.state.ai = AiRuntime.start(open_)
            app.state.metrics = MetricsRefresh.start(open_)
            app.state.worker = EmbeddedWorker(open_) if settings.background_jobs else None
            if app.state.worker is not None:
                app.state.worker.start()
            # Everything loaded at start-up lives as long as the process: freezing it keeps the
            # collector from rescanning it, whose >100 ms pauses timed out every bidder in flight
            # and opened their circuit breakers (docs/benchmarks.md).
            gc.collect()
            gc.freeze()
            yield
        finally:
            for runtime in ("worker", "metrics", "ai", "billing"):
                if getattr(app.state, runtime, None) is not None:
                    try:
                        await getattr(app.state, runtime).stop()
                    except Exception:  # the auction's final flush below must still happen
                        log.exception("stopping the %s runtime failed", runtime)
            await app.state.auction.stop()
            if owned:
                await app.state.services.close()

    app = FastAPI(
        title="Apex Mediation",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
        # Apex exports its own Prometheus metrics; FastAPI's OpenTelemetry hooks would only look
        # up (absent) providers on every request, about a tenth of a beacon's event-loop time.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    if services is not None:
        app.state.services = services
    errors.install(app)
    # The SDK and beacon routes carry nearly all traffic: matched first, they skip
    # the console's and the API's patterns on every request.
    app.router.routes.extend(sdk_routes.routes)
    console.install(app)
    for router in (
        health.router,
        auth.router,
        apps.router,
        placements.router,
        network_accounts.router,
        api_keys.router,
        reporting.router,
        transparency.router,
        billing.router,
    ):
        app.include_router(router)
    app.add_middleware(HttpMetricsMiddleware)
    app.add_middleware(RequestIdMiddleware)
    return app

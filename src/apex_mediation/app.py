"""Builds the ASGI app: stores opened in the lifespan, routers, middleware, error mapping."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from apex_mediation.ai.runtime import AiRuntime
from apex_mediation.api import docs as api_docs
from apex_mediation.api import errors
from apex_mediation.api.cors import ApiCorsMiddleware
from apex_mediation.api.rate_limits import RateLimitMiddleware, Rates
from apex_mediation.api.routes import (
    account,
    api_keys,
    apps,
    audit_log,
    auth,
    billing,
    health,
    network_accounts,
    placements,
    privacy,
    reporting,
    transparency,
)
from apex_mediation.billing.runtime import BillingRuntime
from apex_mediation.compliance.ip_hashing import IpHasher
from apex_mediation.console import routes as console
from apex_mediation.console.pages import privacy as privacy_pages
from apex_mediation.console.rendering import error_page as console_error_page
from apex_mediation.jobs.worker import EmbeddedWorker
from apex_mediation.observability.http_metrics import HttpMetricsMiddleware
from apex_mediation.observability.logging import RequestIdMiddleware, configure_logging
from apex_mediation.observability.refresh import MetricsRefresh
from apex_mediation.observability.security_headers import SecurityHeadersMiddleware
from apex_mediation.sdk import routes as sdk_routes
from apex_mediation.sdk.runtime import build_runtime
from apex_mediation.services import Services, open_services
from apex_mediation.settings import Settings, get_settings
from apex_mediation.stores.rate_limiter import open_rate_limiter

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
            await app.state.rate_limiter.close()
            if owned:
                await app.state.services.close()

    app = FastAPI(
        title="Apex Mediation",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # api/docs.py serves /docs, under a policy that allows its one script
        openapi_url="/openapi.json",
        redoc_url=None,
        # Apex exports its own Prometheus metrics; FastAPI's OpenTelemetry hooks would only look
        # up (absent) providers on every request, about a tenth of a beacon's event-loop time.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    if services is not None:
        app.state.services = services
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
    app.state.rate_limiter = open_rate_limiter(redis_url, settings.rate_limit_prefix)
    errors.install(app)
    api_docs.install(app)
    # The SDK and beacon routes carry nearly all traffic: matched first, they skip
    # the console's and the API's patterns on every request.
    app.router.routes.extend(sdk_routes.routes)
    console.install(app)
    app.include_router(privacy_pages.router)
    for router in (
        health.router,
        auth.router,
        account.router,
        apps.router,
        placements.router,
        network_accounts.router,
        api_keys.router,
        reporting.router,
        transparency.router,
        billing.router,
        audit_log.router,
        privacy.router,
    ):
        # Every API route documents its error answers; the health probes have none to give.
        responses = None if router is health.router else errors.API_ERROR_RESPONSES
        app.include_router(router, responses=responses)
    # Innermost first: limits before any route work; CORS outside them, so a console-origin
    # caller can read its 429; security headers outermost, on every response.
    app.add_middleware(
        RateLimitMiddleware,
        limiter=app.state.rate_limiter,
        rates=Rates.from_settings(settings),
        console_error_page=console_error_page,
        ip_hasher=IpHasher(settings.secret),
    )
    app.add_middleware(ApiCorsMiddleware, console_url=settings.base_url)
    app.add_middleware(HttpMetricsMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, trust_proxy_headers=settings.trust_proxy_headers)
    return app

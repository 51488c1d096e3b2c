"""`/health` (the process is alive), `/ready` (every store answers), `/metrics` (Prometheus)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from apex_mediation.api.deps import ServicesDep
from apex_mediation.observability.health import readiness

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


class CheckOut(BaseModel):
    ok: bool
    detail: str


class ReadyOut(BaseModel):
    status: Literal["ready", "not_ready"]
    failed: list[str]
    checks: dict[str, CheckOut]


@router.get(
    "/ready",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "a store does not answer"}},
)
async def ready(request: Request, services: ServicesDep) -> JSONResponse:
    runtime = getattr(request.app.state, "auction", None)
    checks = await readiness(services, runtime.config_error if runtime else None)
    failed = [check.name for check in checks if not check.ok]
    body = {
        "status": "not_ready" if failed else "ready",
        "failed": failed,
        "checks": {check.name: {"ok": check.ok, "detail": check.detail} for check in checks},
    }
    return JSONResponse(body, status_code=503 if failed else 200)


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

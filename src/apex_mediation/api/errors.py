"""One error body everywhere: {"error": {"code", "name", "message", "details"?}}.

Codes below 5000 are the published SDK codes (PROTOCOL.md §7); the management and console APIs
add their own in the 5000 range. Domain errors are mapped here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from apex_mediation.accounts.errors import (
    AuthenticationFailed,
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    PaymentRequired,
    PermissionDenied,
)

INVALID_REQUEST = (1001, "INVALID_REQUEST")
INTERNAL_ERROR = (1000, "INTERNAL_ERROR")
UNAUTHORIZED = (5001, "UNAUTHORIZED")
FORBIDDEN = (5003, "FORBIDDEN")
NOT_FOUND = (5004, "NOT_FOUND")
METHOD_NOT_ALLOWED = (5005, "METHOD_NOT_ALLOWED")
CONFLICT = (5009, "CONFLICT")
PAYLOAD_TOO_LARGE = (5013, "PAYLOAD_TOO_LARGE")
RATE_LIMITED = (5029, "RATE_LIMITED")

_BY_STATUS = {
    400: INVALID_REQUEST,
    401: UNAUTHORIZED,
    403: FORBIDDEN,
    404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    409: CONFLICT,
    413: PAYLOAD_TOO_LARGE,
    422: INVALID_REQUEST,
    429: RATE_LIMITED,
}


class ErrorDetail(BaseModel):
    code: int
    name: str
    message: str
    details: dict[str, Any] | None = None


class ErrorBody(BaseModel):
    """The body of every error answer, documented on each API route."""

    error: ErrorDetail


_DESCRIPTIONS = {
    400: "the request is invalid: the message names the field at fault",
    401: "no credentials, or unknown, expired or revoked ones",
    402: "the publisher's access is restricted until an overdue invoice is paid",
    403: "the credentials lack the role, scope or CSRF token this needs",
    404: "no such object for this publisher (another publisher's ids included)",
    409: "the change conflicts with the object's current state",
    413: "the request body is too large",
    429: "too many requests; Retry-After says when to try again",
}
# The error answers any publisher API route can give, for its OpenAPI description.
API_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text} for status, text in _DESCRIPTIONS.items()
}
# Any other client error has the same body; declaring it also keeps FastAPI from documenting a
# 422 that this API never sends (validation errors are 400s).
API_ERROR_RESPONSES["4XX"] = {"model": ErrorBody, "description": "any other client error"}


def error_body(
    code: tuple[int, str], message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code[0], "name": code[1], "message": message}
    if details:
        error["details"] = details
    return {"error": error}


def error_response(
    status: int,
    message: str,
    details: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    code = _BY_STATUS.get(status, INTERNAL_ERROR if status >= 500 else INVALID_REQUEST)
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def field_path(loc: tuple[int | str, ...] | list[int | str]) -> str:
    """("body", "config", "waterfall", 0, "priority") -> "config.waterfall[0].priority"."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def _domain_status(exc: DomainError) -> int:
    for kind, status in (
        (NotFound, 404),
        (Conflict, 409),
        (InvalidInput, 400),
        (PermissionDenied, 403),
        (AuthenticationFailed, 401),
        (PaymentRequired, 402),
    ):
        if isinstance(exc, kind):
            return status
    return 400


async def _on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    details = {"fields": [{"field": exc.field, "message": exc.message}]} if exc.field else None
    message = f"{exc.field}: {exc.message}" if exc.field else exc.message
    return error_response(_domain_status(exc), message, details)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            return error_response(400, "request body is not valid JSON")
        fields.append({"field": field_path(error.get("loc", ())), "message": error.get("msg", "")})
    first = fields[0] if fields else {"field": "body", "message": "invalid request"}
    return error_response(400, f"{first['field']}: {first['message']}", {"fields": fields})


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return error_response(exc.status_code, str(exc.detail), headers=exc.headers)


# PostgreSQL cannot store U+0000 in text (SQLSTATE 22021) nor some escapes of it (22P05). Any
# string a client sends may hold one, so this is the client's mistake wherever it surfaces.
_UNSTORABLE_TEXT = frozenset({"22021", "22P05"})


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if getattr(exc.orig, "sqlstate", None) in _UNSTORABLE_TEXT:
        return error_response(400, "text must not contain NUL (U+0000) characters")
    raise exc


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _on_domain_error)
    app.add_exception_handler(DBAPIError, _on_database_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)

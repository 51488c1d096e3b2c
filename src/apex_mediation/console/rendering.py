"""Templates, the console's security headers and its error pages.

Every console response carries a Content-Security-Policy without 'unsafe-inline' or
'unsafe-eval': pages load only this origin's scripts and styles, and htmx runs with eval off.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError

from apex_mediation.accounts.errors import (
    AuthenticationFailed,
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    PaymentRequired,
    PermissionDenied,
)
from apex_mediation.api.errors import field_path
from apex_mediation.console.viewer import LoginRequired

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
NONE = "\u2013"  # an en dash where a value is missing
_STATUS = {
    NotFound: 404,
    PermissionDenied: 403,
    AuthenticationFailed: 401,
    Conflict: 409,
    PaymentRequired: 402,
}


def usd(micros: int | None, digits: int = 2) -> str:
    """Integer micros as dollars for display: 1234567 -> '$1.23'."""
    if micros is None:
        return NONE
    sign = "-" if micros < 0 else ""
    return f"{sign}${abs(micros) / 1_000_000:,.{digits}f}"


def percent(ratio: float | None) -> str:
    return NONE if ratio is None else f"{ratio * 100:.1f}%"


def number(value: int | float | None) -> str:
    if value is None:
        return NONE
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


@cache
def _asset_version(name: str) -> str:
    path = STATIC_DIR / name
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10] if path.exists() else "0"


def static(name: str) -> str:
    """A static file's URL, versioned by its content so it can be cached for long."""
    return f"/static/{name}?v={_asset_version(name)}"


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(usd=usd, percent=percent, number=number)
    env.globals.update(static=static)
    return env


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    values = {"request": request, **(context or {})}
    html = environment().get_template(template).render(values)
    return HTMLResponse(html, status_code, headers={**SECURITY_HEADERS, **(headers or {})})


def redirect(url: str, headers: Mapping[str, str] | None = None) -> Response:
    """After a form post: 303 to the page to show; htmx follows HX-Redirect instead."""
    response = RedirectResponse(url, status_code=303)
    response.headers["HX-Redirect"] = url
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


class ConsoleRoute(APIRoute):
    """A console route: a missing session sends the browser to the login form, and a domain
    error becomes an HTML page (or an htmx fragment) rather than the API's JSON envelope."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired as exc:
                target = "/login" + (f"?next={exc.next_path}" if exc.next_path != "/" else "")
                return redirect(target)
            except InvalidInput as exc:
                return _error(request, 400, _message(exc))
            except DomainError as exc:
                return _error(request, _STATUS.get(type(exc), 400), _message(exc))

        return route


def _message(exc: DomainError) -> str:
    return f"{exc.field}: {exc.message}" if exc.field else exc.message


def form_error(exc: DomainError | ValidationError) -> str:
    """One line naming the field at fault, for re-rendering a form with what was typed."""
    if isinstance(exc, ValidationError):
        errors = exc.errors()
        if not errors:
            return "invalid input"
        return f"{field_path(tuple(errors[0]['loc']))}: {errors[0]['msg']}"
    return _message(exc)


def _error(request: Request, status: int, message: str) -> HTMLResponse:
    fragment = request.headers.get("hx-request") == "true"
    template = "partials/error.html" if fragment else "error.html"
    return render(request, template, {"status": status, "message": message}, status)


def error_page(
    request: Request, status: int, message: str, headers: Mapping[str, str]
) -> HTMLResponse:
    """An error as the console shows it, for a refusal made before any console route runs
    (the rate limiter's 429)."""
    response = _error(request, status, message)
    response.headers.update(headers)
    return response

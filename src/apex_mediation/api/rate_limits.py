"""Request-rate limits on the management API, the reporting API and the console.

One ASGI middleware, in front of routing so that a refused request costs no database work:

* reporting (`/api/v1/reporting…`): per API key (PROTOCOL.md: 100/minute and 10,000/day);
* everything else of the API and the console: per API key or console session, and per IP;
* login and password reset: far stricter, per IP and per submitted account e-mail, so that
  neither one address nor one account can be guessed at quickly.

The caller is told apart by a digest of the credential it sends (the Bearer key, else the
session cookie), not by looking it up: a key's secret is the key, and a session belongs to one
user. The SDK endpoints are limited at the SDK edge instead (per app, `sdk/limits.py`), and
health probes never are. A refused request is a 429 with Retry-After, in its surface's format:
the API error body, or the console's HTML error page (rendered by a function the app passes in,
since nothing here may import the console).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from limits import RateLimitItem
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from apex_mediation.accounts.sessions import COOKIE_NAME
from apex_mediation.api.errors import error_response
from apex_mediation.settings import Settings
from apex_mediation.stores.rate_limiter import RateLimiter, Strategy, parse_rates

ConsoleErrorPage = Callable[[Request, int, str, dict[str, str]], Response]

# The SDK edge limits itself per app; probes must answer whatever the load.
UNLIMITED_PREFIXES = ("/v1/", "/t/", "/api/v1/rtb/", "/static/")
UNLIMITED_PATHS = frozenset({"/auction", "/health", "/ready", "/metrics"})
REPORTING_PREFIX = "/api/v1/reporting"
API_SURFACE = ("/api/", "/openapi.json", "/docs")  # refused with the API's error body
# POSTs that check a password or send a reset link: (path or path prefix, endpoint name).
CREDENTIAL_ENDPOINTS = (
    ("/api/v1/auth/login", "login"),
    ("/login", "login"),
    ("/password-reset", "password-reset"),
)
MAX_FORM_BYTES = 64 * 1024  # a login form is far smaller; larger ones are not read for an e-mail
# Up to this period a limit is a moving window (exact); longer ones, daily quotas, are one
# fixed-window counter per key rather than a timestamp per request.
LONGEST_MOVING_S = 3600


@dataclass(frozen=True)
class Rates:
    reporting_per_key: list[RateLimitItem]
    api_per_user: list[RateLimitItem]
    api_per_ip: list[RateLimitItem]
    login_per_ip: list[RateLimitItem]
    login_per_account: list[RateLimitItem]

    @classmethod
    def from_settings(cls, settings: Settings) -> Rates:
        return cls(
            reporting_per_key=parse_rates(settings.rate_reporting_per_key),
            api_per_user=parse_rates(settings.rate_api_per_user),
            api_per_ip=parse_rates(settings.rate_api_per_ip),
            login_per_ip=parse_rates(settings.rate_login_per_ip),
            login_per_account=parse_rates(settings.rate_login_per_account),
        )


def _digest(value: str) -> str:
    # Keys in a shared Redis carry no secret and no address in clear.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _credential_endpoint(method: str, path: str) -> str | None:
    if method != "POST":
        return None
    for prefix, name in CREDENTIAL_ENDPOINTS:
        if path == prefix or path.startswith(prefix + "/"):
            return name
    return None


def _caller(headers: Headers) -> str | None:
    """The credential's digest: the Bearer API key wins over a session cookie, as in the API."""
    scheme, _, secret = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and secret.strip():
        return "key:" + _digest(secret.strip())
    for cookie in headers.getlist("cookie"):
        for part in cookie.split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE_NAME and value:
                return "session:" + _digest(value)
    return None


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole request body, or its first MAX_FORM_BYTES and False when it is longer."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return bytes(body), True
        body += message.get("body", b"")
        if len(body) > MAX_FORM_BYTES or not message.get("more_body", False):
            return bytes(body), not message.get("more_body", False)


def _replay(body: bytes, complete: bool, receive: Receive) -> Receive:
    """A `receive` that hands the already read body on, then the rest from the client."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": not complete}
        return await receive()

    return replayed


async def _account_email(scope: Scope, body: bytes) -> str | None:
    """The e-mail a login or reset form submits (JSON or form-encoded), normalised."""
    content_type = Headers(scope=scope).get("content-type", "")
    value: object = None
    try:
        if content_type.startswith("application/json"):
            document = json.loads(body)
            value = document.get("email") if isinstance(document, dict) else None
        elif content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            done: list[bool] = []

            async def once() -> Message:
                more = bool(done)
                done.append(True)
                return {"type": "http.request", "body": b"" if more else body, "more_body": False}

            async with Request(scope, once).form() as form:
                value = form.get("email")
    # Not JSON, not a form, nested past the parser: counted per IP alone; the route answers.
    except (ValueError, RecursionError, HTTPException, MultiPartException):
        return None
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


class RateLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        limiter: RateLimiter,
        rates: Rates,
        console_error_page: ConsoleErrorPage,
        ip_hasher: Callable[[str], str],
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.rates = rates
        self.console_error_page = console_error_page
        self.ip_hasher = ip_hasher  # counters are keyed by the address's keyed hash

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] != "http"
            or path in UNLIMITED_PATHS
            or path.startswith(UNLIMITED_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        ip = self.ip_hasher(client[0]) if client else "-"
        endpoint = _credential_endpoint(scope["method"], path)
        if endpoint is not None:
            body, complete = await _read_body(receive)
            receive = _replay(body, complete, receive)
            email = await _account_email(scope, body) if complete else None
            wait = await self._credential_wait(endpoint, ip, email)
        else:
            wait = await self._wait(path, ip, _caller(Headers(scope=scope)))
        if wait is None:
            await self.app(scope, receive, send)
            return
        response = self._refusal(scope, wait)
        await response(scope, receive, send)

    async def _credential_wait(self, endpoint: str, ip: str, email: str | None) -> int | None:
        wait = await self._check(self.rates.login_per_ip, endpoint, "ip", ip)
        if wait is None and email is not None:
            wait = await self._check(self.rates.login_per_account, endpoint, _digest(email))
        return wait

    async def _wait(self, path: str, ip: str, caller: str | None) -> int | None:
        wait = await self._check(self.rates.api_per_ip, "api-ip", ip)
        if wait is not None or caller is None:
            return wait
        if path == REPORTING_PREFIX or path.startswith(REPORTING_PREFIX + "/"):
            return await self._check(self.rates.reporting_per_key, "report", caller)
        return await self._check(self.rates.api_per_user, "api-user", caller)

    async def _check(self, rates: list[RateLimitItem], *identifiers: str) -> int | None:
        for rate in rates:
            strategy = Strategy.MOVING if rate.get_expiry() <= LONGEST_MOVING_S else Strategy.FIXED
            wait = await self.limiter.retry_after([rate], *identifiers, strategy=strategy)
            if wait is not None:
                return wait
        return None

    def _refusal(self, scope: Scope, wait: int) -> Response:
        message = f"too many requests; retry after {wait} s"
        headers = {"Retry-After": str(wait)}
        if scope["path"].startswith(API_SURFACE):
            return error_response(429, message, {"retryAfter": wait}, headers=headers)
        return self.console_error_page(Request(scope), 429, message, headers)

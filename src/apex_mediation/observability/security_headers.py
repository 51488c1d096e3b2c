"""Security headers on every response, whoever made it (a route, an error handler, the rate
limiter, a 404), in one ASGI middleware.

A header a route set itself is kept: the console's stricter Content-Security-Policy, the
sandbox policy of the creative URL, the invoice documents' policy. Everything else gets the
API's policy, which allows nothing to load and no page to frame it.

Strict-Transport-Security only over HTTPS: the request's own scheme (uvicorn's proxy-headers
already set it from a trusted proxy), or X-Forwarded-Proto when APEX_TRUST_PROXY_HEADERS says
the proxy in front is ours. Sent over plain HTTP it would be ignored, or, worse, pin a
development host to HTTPS.

An exception that escapes the app before a response started is answered here (500 with the
error body and these headers), then re-raised so that the server still logs it.
"""

from __future__ import annotations

import msgspec
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"
_INTERNAL_ERROR = msgspec.json.encode(
    {"error": {"code": 1000, "name": "INTERNAL_ERROR", "message": "internal server error"}}
)


def frame_option(csp: str) -> str:
    """X-Frame-Options agreeing with a policy's frame-ancestors, for browsers without CSP.

    A route's own policy that leaves framing open (the sandboxed creative, which the console's
    placement test page shows in an iframe) gets SAMEORIGIN: this origin may frame it, no other.
    """
    for directive in csp.split(";"):
        name, _, value = directive.strip().partition(" ")
        if name.lower() == "frame-ancestors":
            return "DENY" if value.strip() == "'none'" else "SAMEORIGIN"
    return "SAMEORIGIN"


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, trust_proxy_headers: bool = False) -> None:
        self.app = app
        self.trust_proxy_headers = trust_proxy_headers

    def _https(self, scope: Scope) -> bool:
        if scope.get("scheme") == "https":
            return True
        if not self.trust_proxy_headers:
            return False
        forwarded = Headers(scope=scope).get("x-forwarded-proto", "")
        return forwarded.split(",")[0].strip().lower() == "https"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = self._https(scope)
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                self._add(MutableHeaders(scope=message), https)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if not started:
                await send_with_headers(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(_INTERNAL_ERROR)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": _INTERNAL_ERROR})
            raise

    @staticmethod
    def _add(headers: MutableHeaders, https: bool) -> None:
        csp = headers.get("content-security-policy")
        if csp is None:
            csp = API_CSP
            headers["Content-Security-Policy"] = csp
        headers.setdefault("X-Frame-Options", frame_option(csp))
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        if https:
            headers.setdefault("Strict-Transport-Security", HSTS)

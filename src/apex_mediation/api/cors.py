"""Cross-origin access to the management and reporting API: the console's own origin only.

Starlette's CORS middleware, applied to the API's paths alone: the Web SDK's `/auction`
answers its apps' allowed origins itself (sdk/routes.py), and the CTV endpoint under
`/api/v1/rtb/` is SDK traffic, not the publisher API. A preflight from any other origin is
refused (400), and an actual request from one gets no Access-Control-Allow-Origin, so the
browser keeps the response from the foreign page.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

API_PREFIX = "/api/"
SDK_PREFIX = "/api/v1/rtb/"
ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ALLOWED_HEADERS = ("Authorization", "Content-Type", "X-CSRF-Token", "X-Publisher-Id")
EXPOSED_HEADERS = ("Retry-After", "ETag")


def origin_of(url: str) -> str:
    """'https://apex.example.com/console' -> 'https://apex.example.com' (what browsers send)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class ApiCorsMiddleware:
    def __init__(self, app: ASGIApp, console_url: str) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=[origin_of(console_url)],
            allow_methods=ALLOWED_METHODS,
            allow_headers=ALLOWED_HEADERS,
            allow_credentials=True,  # the console calls the API with its session cookie
            expose_headers=EXPOSED_HEADERS,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] == "http"
            and path.startswith(API_PREFIX)
            and not path.startswith(SDK_PREFIX)
        ):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)

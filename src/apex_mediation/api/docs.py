"""The interactive API docs (Swagger UI) under a Content-Security-Policy of their own.

FastAPI's page starts Swagger UI with one inline script. Rather than allowing inline scripts,
the policy names that script by its hash (computed from the page as served, so it stays right
when FastAPI changes the page), and the CDN that serves Swagger UI's files.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

SWAGGER_CDN = "https://cdn.jsdelivr.net"
FAVICON_HOST = "https://fastapi.tiangolo.com"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _hashes(html: str) -> str:
    return " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
    )


def docs_page(openapi_url: str, title: str) -> HTMLResponse:
    page = get_swagger_ui_html(openapi_url=openapi_url, title=title)
    html = bytes(page.body).decode()
    policy = (
        f"default-src 'none'; script-src {SWAGGER_CDN} {_hashes(html)}; "
        f"style-src {SWAGGER_CDN} 'unsafe-inline'; img-src {FAVICON_HOST} data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": policy})


def install(app: FastAPI, path: str = "/docs") -> None:
    """Serve the docs at `path`; create the app with docs_url=None so FastAPI's page is not."""
    title = f"{app.title} - Swagger UI"

    async def docs() -> HTMLResponse:
        return docs_page(app.openapi_url or "/openapi.json", title)

    app.add_api_route(path, docs, methods=["GET"], include_in_schema=False)

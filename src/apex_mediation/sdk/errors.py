"""SDK error bodies with the published codes (PROTOCOL.md §7)."""

from __future__ import annotations

from enum import IntEnum

import msgspec
from starlette.responses import Response


class SdkError(IntEnum):
    INTERNAL_ERROR = 1000
    INVALID_REQUEST = 1001
    NETWORK_ERROR = 1002
    NO_FILL = 1003
    TIMEOUT = 1004
    INIT_FAILED = 2000
    INVALID_APP_ID = 2001
    AD_NOT_READY = 3000
    AD_EXPIRED = 3001
    DISPLAY_FAILED = 3002
    MISSING_ASSETS = 4000


_encoder = msgspec.json.Encoder()


def error_response(
    status: int, code: SdkError, message: str, headers: dict[str, str] | None = None
) -> Response:
    body = {"error": {"code": int(code), "name": code.name, "message": message}}
    return Response(
        _encoder.encode(body), status_code=status, headers=headers, media_type="application/json"
    )


def json_response(
    body: object, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        _encoder.encode(body), status_code=status, headers=headers, media_type="application/json"
    )

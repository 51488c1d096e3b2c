"""Turning placement-line params and account credentials into the adapters' models.

msgspec reports the first problem it meets, with a JSON path such as `$.ad_unit_id`; the path is
rewritten to `params.ad_unit_id` / `credentials.game_id` so that a message names the field the way
the publisher typed it.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

import msgspec

from apex_mediation.auction.adapters.base import AdapterError

StructT = TypeVar("StructT", bound=msgspec.Struct)

# Reused id shapes. Each network module documents which id is which.
Digits = Annotated[str, msgspec.Meta(pattern=r"^\d{1,20}$")]
Hex24 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-fA-F]{24}$")]
Name = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,99}$")]
Token = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_\-]{4,200}$")]

# RFC 9110 header field name; the token must not be able to smuggle a second header.
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,100}$")
_RESERVED_HEADERS = frozenset({"content-type", "content-length", "host", "x-openrtb-version"})


class Model(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of every params and credentials model: a typo in a key is an error, not ignored."""


class NoCredentials(Model):
    """For networks that need no account-level credentials."""


def problems(model: type[msgspec.Struct], data: Any, where: str) -> list[str]:
    """The readable errors of `data` against `model` (empty when it converts)."""
    try:
        msgspec.convert(data, type=model)
    except msgspec.ValidationError as error:
        return [_describe(error, where)]
    return []


def load(model: type[StructT], data: Any, where: str) -> StructT:
    """`data` converted into `model`, or an AdapterError naming the field."""
    try:
        return msgspec.convert(data, type=model)
    except msgspec.ValidationError as error:
        raise AdapterError(_describe(error, where)) from None


def _describe(error: msgspec.ValidationError, where: str) -> str:
    message = str(error)
    if "`$" in message:
        return message.replace("`$", f"`{where}")
    return f"{where}: {message}"


def check_endpoint(url: str) -> None:
    """https only, except plain http to this machine (local fake bidders in tests and demos)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.username or parts.password:
        raise ValueError("endpoint must not carry credentials in the URL")
    if parts.scheme == "https" and host:
        return
    if parts.scheme == "http" and _is_local(host):
        return
    raise ValueError(
        f"endpoint must be an https URL (http only to 127.0.0.1 or localhost): {url!r}"
    )


def _is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_header(name: str | None, token: str | None) -> None:
    """An auth header is a name and a token together, and may not replace our own headers."""
    if (name is None) != (token is None):
        raise ValueError("auth_header and auth_token go together: give both or neither")
    if name is None or token is None:
        return
    if not _HEADER_NAME.match(name) or name.lower() in _RESERVED_HEADERS:
        raise ValueError(f"auth_header {name!r} is not a usable HTTP header name")
    if any(char in token for char in "\r\n\0") or not token.strip():
        raise ValueError("auth_token must be a non-empty single line")

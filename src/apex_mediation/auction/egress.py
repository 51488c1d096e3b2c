"""Where bidder calls may go: publishers type bidder endpoints, so outbound calls are checked.

In production a bidder call may reach public addresses only: loopback, private, link-local,
shared and reserved ranges are refused, both for IP literals in the URL and for every address a
host name resolves to (checked at connect time, so DNS rebinding cannot slip past a check made
when the endpoint was saved). Development, tests and the demo use local bidders and allow them.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver


class EgressDenied(OSError):
    pass


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str) -> None:
    """Refuse a URL whose host is an IP literal that is not public."""
    host = urlsplit(url).hostname or ""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return  # a name: checked when it resolves
    if not is_public(str(literal)):
        raise EgressDenied(f"bidder address {host} is not public")


class PublicOnlyResolver(AbstractResolver):
    def __init__(self) -> None:
        self._inner = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        public = [r for r in results if is_public(r["host"])]
        if not public:
            raise EgressDenied(f"bidder host {host} resolves to no public address")
        return public

    async def close(self) -> None:
        await self._inner.close()


def resolver(allow_private: bool) -> Any:
    return None if allow_private else PublicOnlyResolver()

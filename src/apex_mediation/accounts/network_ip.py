"""IP addresses as they may be stored: truncated, never the full address."""

from __future__ import annotations

import ipaddress


def truncate_ip(ip: str | None) -> str | None:
    """IPv4 to its /24 and IPv6 to its /48; None for anything that is not an address."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))

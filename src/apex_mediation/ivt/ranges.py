"""Data-centre and cloud address ranges, and operators' CIDR lists.

Traffic from a data centre is GIVT (MRC): people do not browse from cloud servers. The check
runs per request, so the ranges are flattened once into sorted, non-overlapping integer
intervals per address family and looked up with bisect: O(log n), a few µs in Python.

The parsers read what providers publish (AWS ip-ranges.json, Google Cloud cloud.json, Azure
ServiceTags_Public, Oracle public_ip_ranges.json, DigitalOcean's CSV, plain lists), for
`apex ivt load-ranges FILE`. A CIDR that does not parse is an error naming it, never skipped:
a silently shorter list means bots counted as people.
"""

from __future__ import annotations

import csv
import functools
import ipaddress
import json
import socket
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

SHIPPED_FILE = "datacenter_ranges.txt"
FORMATS: tuple[str, ...] = ("aws", "gcp", "azure", "oracle", "csv", "plain")

# Widest prefix accepted from a provider's file. Every request from a range counts as invalid,
# so a stray "0.0.0.0/0" (or a /4 typo) would invalidate all traffic; no cloud publishes a
# range wider than a /8 (IPv4) or a /16 (IPv6).
MIN_PREFIX = {4: 8, 6: 16}

_MAPPED_PREFIX = 0xFFFF  # ::ffff:a.b.c.d, IPv4-mapped IPv6: the upper 96 bits


@dataclass(frozen=True, slots=True)
class _Table:
    """Disjoint intervals sorted by start; ends[i] is inclusive."""

    starts: list[int]
    ends: list[int]
    sources: list[str]

    def find(self, address: int) -> str | None:
        i = bisect_right(self.starts, address) - 1
        if i >= 0 and address <= self.ends[i]:
            return self.sources[i]
        return None


class IpRanges:
    """A set of CIDR ranges, each with the name of where it came from.

    lookup() returns the source of the narrowest range containing the address. CIDR blocks
    never partially overlap (two blocks are nested or disjoint), so nested blocks are split
    into pieces, each labelled by its innermost block.
    """

    __slots__ = ("_count", "_v4", "_v6")

    def __init__(self, ranges: Iterable[tuple[str, str]]) -> None:
        v4: list[tuple[int, int, str]] = []
        v6: list[tuple[int, int, str]] = []
        for cidr, source in ranges:
            network = _network(cidr, repr(cidr))
            first = int(network.network_address)
            last = first | int(network.hostmask)
            mapped = first >> 32 == _MAPPED_PREFIX and last >> 32 == _MAPPED_PREFIX
            if network.version == 6 and mapped:
                # Mapped addresses are looked up as IPv4, so their ranges are stored there too.
                v4.append((first & 0xFFFFFFFF, last & 0xFFFFFFFF, source))
            else:
                (v4 if network.version == 4 else v6).append((first, last, source))
        self._count = len(v4) + len(v6)
        self._v4 = _flatten(v4)
        self._v6 = _flatten(v6)

    def __len__(self) -> int:
        """How many ranges it was built from."""
        return self._count

    def __contains__(self, ip: object) -> bool:
        return isinstance(ip, str) and self.lookup(ip) is not None

    def lookup(self, ip: str) -> str | None:
        """The source of the narrowest range holding `ip`; None if none does or `ip` is not
        an address (malformed input is not an error on the request path)."""
        parsed = _parse_address(ip)
        if parsed is None:
            return None
        version, address = parsed
        return (self._v4 if version == 4 else self._v6).find(address)


def _flatten(ranges: list[tuple[int, int, str]]) -> _Table:
    """Nested or disjoint intervals -> disjoint pieces, each labelled by its innermost range.

    Sweep in order of start (widest first on ties), keeping the chain of open ranges on a
    stack. Before a range opens, the part of its parent up to it is emitted; when a range
    closes, whatever of it no child covered is emitted. Identical ranges: the last one wins.
    """
    starts: list[int] = []
    ends: list[int] = []
    sources: list[str] = []

    def emit(start: int, end: int, source: str) -> None:
        if starts and ends[-1] + 1 == start and sources[-1] == source:
            ends[-1] = end  # adjacent pieces of one source become one interval
        else:
            starts.append(start)
            ends.append(end)
            sources.append(source)

    stack: list[tuple[int, str]] = []  # (end, source) of the open ranges, innermost last
    cursor = 0  # first address not yet emitted
    for start, end, source in sorted(ranges, key=lambda r: (r[0], -r[1])):
        while stack and stack[-1][0] < start:
            closing_end, closing_source = stack.pop()
            if cursor <= closing_end:
                emit(cursor, closing_end, closing_source)
                cursor = closing_end + 1
        if stack and cursor < start:
            emit(cursor, start - 1, stack[-1][1])
        cursor = start
        stack.append((end, source))
    while stack:
        closing_end, closing_source = stack.pop()
        if cursor <= closing_end:
            emit(cursor, closing_end, closing_source)
            cursor = closing_end + 1
    return _Table(starts, ends, sources)


def _parse_address(ip: str) -> tuple[int, int] | None:
    """(4 or 6, the address as an int), or None. inet_pton is ~10x faster than ipaddress."""
    text = ip.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        if ":" not in text:
            return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
        # A zone ("fe80::1%eth0") names an interface, not a different address.
        packed = socket.inet_pton(socket.AF_INET6, text.split("%", 1)[0])
    except (OSError, ValueError):  # ValueError: an embedded NUL
        return None
    address = int.from_bytes(packed, "big")
    if address >> 32 == _MAPPED_PREFIX:
        return 4, address & 0xFFFFFFFF
    return 6, address


def _network(value: object, where: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected a CIDR string, got {value!r}")
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValueError(f"{where}: {value!r} is not a valid CIDR") from None


def _cidr(value: object, where: str) -> str:
    """A provider's CIDR, normalised ("1.2.3.4/24" -> "1.2.3.0/24"), or ValueError."""
    network = _network(value, where)
    if network.prefixlen < MIN_PREFIX[network.version]:
        raise ValueError(
            f"{where}: {value!r} is wider than /{MIN_PREFIX[network.version]}; "
            "no provider publishes such a range"
        )
    return str(network)


def _unique(cidrs: Iterable[str]) -> list[str]:
    # Azure repeats every prefix under several service tags; order is kept for readable diffs.
    return list(dict.fromkeys(cidrs))


# -- Provider formats -------------------------------------------------------------------------


def _load_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what}: not valid JSON: {exc}") from None


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _aws(doc: Any) -> list[str]:
    root = _object(doc, "aws")
    cidrs: list[str] = []
    for list_key, item_key in (("prefixes", "ip_prefix"), ("ipv6_prefixes", "ipv6_prefix")):
        for i, item in enumerate(_list(root.get(list_key, []), f"aws: {list_key}")):
            where = f"aws: {list_key}[{i}].{item_key}"
            cidrs.append(_cidr(_object(item, where).get(item_key), where))
    return _unique(cidrs)


def _gcp(doc: Any) -> list[str]:
    cidrs: list[str] = []
    for i, item in enumerate(_list(_object(doc, "gcp").get("prefixes"), "gcp: prefixes")):
        entry = _object(item, f"gcp: prefixes[{i}]")
        keys = [key for key in ("ipv4Prefix", "ipv6Prefix") if key in entry]
        if not keys:
            raise ValueError(f"gcp: prefixes[{i}]: neither ipv4Prefix nor ipv6Prefix")
        cidrs.extend(_cidr(entry[key], f"gcp: prefixes[{i}].{key}") for key in keys)
    return _unique(cidrs)


def _azure(doc: Any) -> list[str]:
    cidrs: list[str] = []
    for i, item in enumerate(_list(_object(doc, "azure").get("values"), "azure: values")):
        value = _object(item, f"azure: values[{i}]")
        where = f"azure: values[{i}] ({value.get('name', '?')}).properties.addressPrefixes"
        properties = _object(value.get("properties"), where)
        prefixes = _list(properties.get("addressPrefixes"), where)
        cidrs.extend(_cidr(prefix, f"{where}[{j}]") for j, prefix in enumerate(prefixes))
    return _unique(cidrs)


def _oracle(doc: Any) -> list[str]:
    cidrs: list[str] = []
    for i, item in enumerate(_list(_object(doc, "oracle").get("regions"), "oracle: regions")):
        region = _object(item, f"oracle: regions[{i}]")
        name = region.get("region", "?")
        entries = _list(region.get("cidrs"), f"oracle: regions[{i}] ({name}).cidrs")
        for j, entry in enumerate(entries):
            where = f"oracle: regions[{i}] ({name}).cidrs[{j}].cidr"
            cidrs.append(_cidr(_object(entry, where).get("cidr"), where))
    return _unique(cidrs)


def parse_aws(text: str) -> list[str]:
    """AWS ip-ranges.json: prefixes[].ip_prefix and ipv6_prefixes[].ipv6_prefix."""
    return _aws(_load_json(text, "aws"))


def parse_gcp(text: str) -> list[str]:
    """Google Cloud cloud.json (or goog.json): prefixes[].ipv4Prefix / ipv6Prefix."""
    return _gcp(_load_json(text, "gcp"))


def parse_azure(text: str) -> list[str]:
    """Azure ServiceTags_Public_*.json: values[].properties.addressPrefixes[]."""
    return _azure(_load_json(text, "azure"))


def parse_oracle(text: str) -> list[str]:
    """Oracle Cloud public_ip_ranges.json: regions[].cidrs[].cidr."""
    return _oracle(_load_json(text, "oracle"))


def parse_csv(text: str) -> list[str]:
    """CSV whose first column is the CIDR (DigitalOcean's geo feed: cidr,country,region,...).

    A first row whose first field has no digit is taken as a header; `#` lines are comments.
    """
    cidrs: list[str] = []
    first_row = True
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        field = row[0].strip()
        header = first_row and not any(c.isdigit() for c in field)
        first_row = False
        if not header:
            cidrs.append(_cidr(field, f"csv: line {number}"))
    return _unique(cidrs)


def parse_plain(text: str, name: str = "plain") -> list[str]:
    """One CIDR (or bare address) per line; `#` starts a comment, blank lines are skipped."""
    cidrs: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if line:
            cidrs.append(_cidr(line, f"{name}: line {number}"))
    return _unique(cidrs)


_JSON_PARSERS: dict[str, Callable[[Any], list[str]]] = {
    "aws": _aws,
    "gcp": _gcp,
    "azure": _azure,
    "oracle": _oracle,
}


def _json_format(doc: Any) -> str:
    if isinstance(doc, dict):
        if isinstance(doc.get("values"), list):
            return "azure"
        if isinstance(doc.get("regions"), list):
            return "oracle"
        if "ipv6_prefixes" in doc:
            return "aws"
        prefixes = doc.get("prefixes")
        if isinstance(prefixes, list):
            keys = {key for item in prefixes[:10] if isinstance(item, dict) for key in item}
            if keys & {"ip_prefix", "ipv6_prefix"}:
                return "aws"
            if keys & {"ipv4Prefix", "ipv6Prefix"}:
                return "gcp"
            if not prefixes:  # an empty list: tell the two apart by their header fields
                return "aws" if "createDate" in doc else "gcp"
    raise ValueError(
        "unrecognised JSON: expected AWS ip-ranges.json, Google cloud.json, "
        "Azure ServiceTags or Oracle public_ip_ranges.json"
    )


def detect_format(text: str) -> str:
    """The format of a ranges file: aws, gcp, azure, oracle (by the JSON's shape), csv, plain."""
    body = text.lstrip("\ufeff \t\r\n")
    if body.startswith(("{", "[")):
        return _json_format(_load_json(body, "json"))
    for raw in body.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            return "csv" if "," in line else "plain"
    return "plain"


def parse_ranges(text: str, fmt: str | None = None) -> tuple[str, list[str]]:
    """(format, normalised CIDRs) of a provider's file; the format is detected when None.

    Raises ValueError naming the entry or line of any CIDR that does not parse.
    """
    text = text.lstrip("\ufeff")
    fmt = detect_format(text) if fmt is None else fmt.lower()
    if fmt in _JSON_PARSERS:
        return fmt, _JSON_PARSERS[fmt](_load_json(text, fmt))
    if fmt == "csv":
        return fmt, parse_csv(text)
    if fmt == "plain":
        return fmt, parse_plain(text)
    raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")


@functools.cache
def _shipped() -> tuple[str, ...]:
    data = resources.files("apex_mediation.ivt").joinpath("data", SHIPPED_FILE)
    return tuple(parse_plain(data.read_text(encoding="utf-8"), SHIPPED_FILE))


def shipped_ranges() -> list[tuple[str, str]]:
    """The data-centre ranges shipped with the server, as (cidr, "datacenter_ranges.txt")."""
    return [(cidr, SHIPPED_FILE) for cidr in _shipped()]

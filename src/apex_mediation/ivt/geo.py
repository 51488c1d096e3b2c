"""Does an address's country agree with what the device says about itself?

Two checks, both SIVT with moderate weight, never a block on their own: travellers, roaming
SIMs, corporate VPNs and stale geo databases all produce honest mismatches. A device whose
declared country or clock disagrees with its address is only suspicious together with other
signals (emulator farms and proxied bots rarely bother to fake a consistent timezone).

- "country": the country the device declares is not the address's country;
- "timezone": the address's country is not one the device's IANA timezone is used in.

Timezone -> countries comes from the IANA zone.tab shipped in the `tzdata` package (the same
data the OS uses), one country per zone: Europe/Berlin means DE, though Germans abroad and
neighbours exist; that is why the weight is moderate. Legacy names devices still send
("Asia/Calcutta", "US/Eastern", "Europe/Kiev") are resolved through tzdata's links.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

# tzdata (PyPI) is the primary source; the OS copy is the fallback when it is not installed.
_SYSTEM_ZONEINFO = Path("/usr/share/zoneinfo")

# Zones that say nothing about a place: UTC and its synonyms, fixed offsets (Etc/GMT+5 is a
# whole meridian of countries), and POSIX-style rule zones ("CET", "EST5EDT"), which tzdata now
# links to one city's zone (CET -> Europe/Brussels) although devices use them anywhere.
_NO_SIGNAL = frozenset(
    name.casefold()
    for name in (
        "UTC", "UCT", "GMT", "GMT0", "GMT+0", "GMT-0", "Greenwich", "Universal", "Zulu",
        "Factory", "CET", "EET", "MET", "WET", "EST", "HST", "MST", "CST6CDT", "EST5EDT",
        "MST7MDT", "PST8PDT",
    )
)  # fmt: skip

# Codes that are not the ISO code of the place but are sent for it.
_COUNTRY_ALIASES = {"UK": "GB"}

# Territories whose carriers, ISPs and geo-database entries routinely report the parent
# country (and the other way round): a US number roaming in Puerto Rico, a French ISP in
# Réunion, Israeli networks in the West Bank. Inside a group, a difference is no signal.
_SAME_MARKET: tuple[frozenset[str], ...] = (
    frozenset({"US", "PR", "GU", "VI", "AS", "MP", "UM"}),
    frozenset({"FR", "GP", "MQ", "GF", "RE", "YT", "PM", "BL", "MF", "NC", "PF", "WF"}),
    frozenset({"GB", "GG", "JE", "IM"}),
    frozenset({"NL", "BQ", "CW", "SX", "AW"}),
    frozenset({"NO", "SJ", "BV"}),
    frozenset({"DK", "FO", "GL"}),
    frozenset({"FI", "AX"}),
    frozenset({"AU", "CX", "CC", "NF"}),
    frozenset({"IL", "PS"}),
)
_MARKET: dict[str, frozenset[str]] = {code: group for group in _SAME_MARKET for code in group}

_CODE = re.compile(r"[A-Z]{2}")


@dataclass(frozen=True, slots=True)
class _Tables:
    zones: dict[str, frozenset[str]]  # casefolded zone name -> ISO 3166 alpha-2 codes
    countries: frozenset[str]  # every code iso3166.tab knows


def _read(name: str) -> str | None:
    try:
        return resources.files("tzdata").joinpath("zoneinfo", name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        pass
    path = _SYSTEM_ZONEINFO / name
    return path.read_text(encoding="utf-8") if path.is_file() else None


def _data_lines(text: str | None) -> Iterable[list[str]]:
    for line in (text or "").splitlines():
        if line and not line.startswith("#"):
            yield line.split("\t")


@functools.cache
def _tables() -> _Tables:
    """Built once, on first use: zone.tab, tzdata.zi's links and iso3166.tab."""
    direct: dict[str, set[str]] = {}
    for fields in _data_lines(_read("zone.tab")):
        if len(fields) >= 3:
            direct.setdefault(fields[2], set()).add(fields[0])
    # "L <target> <link name>": the compact tzdata source lists every alias.
    links: dict[str, str] = {}
    for line in (_read("tzdata.zi") or "").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "L":
            links[parts[2]] = parts[1]

    def canonical(name: str) -> str:
        seen = {name}
        while name in links and links[name] not in seen:
            name = links[name]
            seen.add(name)
        return name

    # zone.tab names one country per zone, but since tzdata 2022 many zones are links to
    # another country's (Europe/Amsterdam -> Europe/Brussels). A legacy alias gets every
    # country whose zone.tab zone shares its canonical zone: wider, never wrong.
    by_canonical: dict[str, set[str]] = {}
    for zone, codes in direct.items():
        by_canonical.setdefault(canonical(zone), set()).update(codes)
    zones = {zone.casefold(): frozenset(codes) for zone, codes in direct.items()}
    for alias in links:
        key = alias.casefold()
        if key in zones or key in _NO_SIGNAL or key.startswith("etc/"):
            continue
        shared = by_canonical.get(canonical(alias))
        if shared:
            zones[key] = frozenset(shared)
    countries = frozenset(fields[0] for fields in _data_lines(_read("iso3166.tab")) if fields)
    return _Tables(zones, countries)


def timezone_countries(tz: str | None) -> frozenset[str] | None:
    """The ISO countries an IANA timezone is used in; None when unknown, absent or placeless
    (UTC, Etc/*): no signal."""
    if not tz:
        return None
    key = tz.strip().casefold()
    if key in _NO_SIGNAL or key.startswith("etc/"):
        return None
    return _tables().zones.get(key)


def _country(code: str | None) -> str | None:
    """An upper-case ISO 3166 alpha-2 code, or None for anything else ("XX", "EU", "T1"...)."""
    if not code:
        return None
    value = code.strip().upper()
    value = _COUNTRY_ALIASES.get(value, value)
    if not _CODE.fullmatch(value):
        return None
    known = _tables().countries
    # Without iso3166.tab (no tzdata at all), any two letters will do.
    return value if not known or value in known else None


def _same_market(a: str, b: str) -> bool:
    return a == b or b in _MARKET.get(a, frozenset())


def geo_mismatch(
    ip_country: str | None, declared_country: str | None, timezone: str | None
) -> str | None:
    """Why the device contradicts its address's country ("country", "timezone"), or None.

    None also when there is not enough to compare: a side missing or not a valid ISO 3166
    alpha-2 code (OpenRTB's alpha-3 must be converted by the caller), or a timezone that names
    no place.
    """
    ip = _country(ip_country)
    if ip is None:
        return None
    declared = _country(declared_country)
    if declared is not None and not _same_market(declared, ip):
        return "country"
    countries = timezone_countries(timezone)
    if countries is not None and not any(_same_market(code, ip) for code in countries):
        return "timezone"
    return None

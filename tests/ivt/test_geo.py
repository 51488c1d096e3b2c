"""Address country versus the device's declared country and timezone."""

from __future__ import annotations

import pytest

from apex_mediation.ivt.geo import geo_mismatch, timezone_countries


@pytest.mark.parametrize(
    ("ip", "declared", "tz"),
    [
        ("DE", "DE", "Europe/Berlin"),
        ("US", "US", "America/New_York"),
        ("US", "US", "America/Los_Angeles"),
        ("IN", "IN", "Asia/Kolkata"),
        ("BR", "BR", "America/Sao_Paulo"),
        ("NL", "NL", "Europe/Amsterdam"),  # a link to Europe/Brussels in tzdata, NL in zone.tab
        ("de", "de", "europe/berlin"),  # case does not matter
        ("DE", None, "Europe/Berlin"),
        ("DE", "DE", None),
    ],
)
def test_consistent(ip: str, declared: str | None, tz: str | None) -> None:
    assert geo_mismatch(ip, declared, tz) is None


def test_declared_country_differs() -> None:
    assert geo_mismatch("DE", "FR", "Europe/Berlin") == "country"
    assert geo_mismatch("US", "NG", None) == "country"


def test_timezone_is_not_used_in_the_address_country() -> None:
    assert geo_mismatch("US", None, "Europe/Berlin") == "timezone"
    assert geo_mismatch("US", "US", "Asia/Tokyo") == "timezone"
    # Neighbours are not excused: Europe/Berlin is Germany's zone only (a traveller's phone
    # gives the same answer; the weight of the signal accounts for that).
    assert geo_mismatch("AT", "AT", "Europe/Berlin") == "timezone"


def test_the_country_reason_comes_first() -> None:
    assert geo_mismatch("US", "FR", "Europe/Paris") == "country"


@pytest.mark.parametrize(
    "tz",
    ["UTC", "Etc/UTC", "GMT", "Etc/GMT", "Etc/GMT+5", "Etc/GMT-14", "Universal", "Zulu",
     "CET", "EST", "EST5EDT", "Factory"],
)  # fmt: skip
def test_placeless_timezones_give_no_signal(tz: str) -> None:
    assert timezone_countries(tz) is None
    assert geo_mismatch("JP", None, tz) is None


@pytest.mark.parametrize("tz", [None, "", "Mars/Olympus_Mons", "+05:30", "GMT+5:30"])
def test_unknown_or_absent_timezone_gives_no_signal(tz: str | None) -> None:
    assert timezone_countries(tz) is None
    assert geo_mismatch("JP", None, tz) is None


@pytest.mark.parametrize(
    ("alias", "country"),
    [
        ("Asia/Calcutta", "IN"),
        ("US/Eastern", "US"),
        ("US/Pacific", "US"),
        ("Europe/Kiev", "UA"),
        ("Asia/Saigon", "VN"),
        ("Asia/Katmandu", "NP"),
        ("America/Buenos_Aires", "AR"),
        ("Asia/Rangoon", "MM"),
        ("Japan", "JP"),
        ("Australia/NSW", "AU"),
    ],
)
def test_legacy_aliases(alias: str, country: str) -> None:
    countries = timezone_countries(alias)
    assert countries is not None and country in countries
    assert geo_mismatch(country, country, alias) is None


def test_aliases_of_merged_zones_are_widened_not_wrong() -> None:
    # Pacific/Truk (Chuuk, Micronesia) links to Pacific/Port_Moresby (Papua New Guinea).
    countries = timezone_countries("Pacific/Truk")
    assert countries is not None and {"FM", "PG"} <= countries
    assert timezone_countries("GB") == frozenset({"GB", "GG", "IM", "JE"})


def test_zone_tab_zones_map_to_their_country() -> None:
    assert timezone_countries("Europe/Berlin") == frozenset({"DE"})
    assert timezone_countries(" Europe/Kyiv ") == frozenset({"UA"})
    assert timezone_countries("Arctic/Longyearbyen") == frozenset({"SJ"})


@pytest.mark.parametrize("code", [None, "", "X", "USA", "XX", "EU", "AP", "T1", "A1", "1A"])
def test_invalid_country_codes_give_no_signal(code: str | None) -> None:
    assert geo_mismatch(code, "DE", "Europe/Berlin") is None
    assert geo_mismatch("DE", code, "Europe/Berlin") is None


def test_uk_is_read_as_gb() -> None:
    assert geo_mismatch("GB", "UK", "Europe/London") is None
    assert geo_mismatch("UK", "GB", "Europe/London") is None


def test_territories_and_their_parent_country() -> None:
    assert geo_mismatch("PR", "US", "America/Puerto_Rico") is None
    assert geo_mismatch("US", "PR", "America/Puerto_Rico") is None
    assert geo_mismatch("RE", "FR", "Indian/Reunion") is None
    assert geo_mismatch("FR", None, "Indian/Reunion") is None
    assert geo_mismatch("IL", None, "Asia/Hebron") is None
    # Not a blanket excuse: the US and France are still different countries.
    assert geo_mismatch("FR", "US", "America/Puerto_Rico") == "country"

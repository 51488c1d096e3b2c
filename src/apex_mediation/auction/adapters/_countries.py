"""ISO 3166-1 alpha-2 to alpha-3, for OpenRTB's `device.geo.country` (which is alpha-3).

The common markets only: a country not listed here is left out of the request rather than guessed.
"""

from __future__ import annotations

ALPHA3: dict[str, str] = {
    # Americas
    "US": "USA", "CA": "CAN", "MX": "MEX", "BR": "BRA", "AR": "ARG", "CL": "CHL", "CO": "COL",
    "PE": "PER", "EC": "ECU", "VE": "VEN", "UY": "URY", "PR": "PRI", "DO": "DOM", "GT": "GTM",
    # Europe
    "GB": "GBR", "IE": "IRL", "FR": "FRA", "DE": "DEU", "IT": "ITA", "ES": "ESP", "PT": "PRT",
    "NL": "NLD", "BE": "BEL", "LU": "LUX", "CH": "CHE", "AT": "AUT", "DK": "DNK", "SE": "SWE",
    "NO": "NOR", "FI": "FIN", "IS": "ISL", "PL": "POL", "CZ": "CZE", "SK": "SVK", "HU": "HUN",
    "RO": "ROU", "BG": "BGR", "GR": "GRC", "HR": "HRV", "SI": "SVN", "RS": "SRB", "EE": "EST",
    "LV": "LVA", "LT": "LTU", "CY": "CYP", "MT": "MLT", "UA": "UKR", "RU": "RUS", "TR": "TUR",
    # Middle East and Africa
    "IL": "ISR", "SA": "SAU", "AE": "ARE", "QA": "QAT", "KW": "KWT", "EG": "EGY", "MA": "MAR",
    "NG": "NGA", "KE": "KEN", "ZA": "ZAF",
    # Asia and Pacific
    "IN": "IND", "PK": "PAK", "BD": "BGD", "LK": "LKA", "CN": "CHN", "HK": "HKG", "TW": "TWN",
    "JP": "JPN", "KR": "KOR", "SG": "SGP", "MY": "MYS", "TH": "THA", "VN": "VNM", "PH": "PHL",
    "ID": "IDN", "KZ": "KAZ", "AU": "AUS", "NZ": "NZL",
}  # fmt: skip


def alpha3(country: str | None) -> str | None:
    """The alpha-3 code of an alpha-2 code, or None when unknown."""
    return ALPHA3.get(country.upper()) if country else None

"""Pieces every wire format shares: flags as the SDKs spell them, money, the auction's answer."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from apex_mediation.auction.model import AdFormat

MICROS = Decimal(1_000_000)
AD_FORMATS: dict[str, AdFormat] = {
    "banner": "banner",
    "interstitial": "interstitial",
    "rewarded": "rewarded",
    "rewarded_video": "rewarded",
    "rewarded_interstitial": "rewarded",
    "native": "native",
    "app_open": "app_open",
    "appopen": "app_open",
}


class WireError(ValueError):
    """The body does not follow the SDK's format; the message names the field."""


def ad_format(value: str, field: str) -> AdFormat:
    found = AD_FORMATS.get(value.strip().lower().replace("-", "_"))
    if found is None:
        raise WireError(
            f"{field}: unknown ad type {value!r}; expected one of banner, "
            "interstitial, rewarded, native, app_open"
        )
    return found


def flag(value: object) -> bool | None:
    """ "1"/"0", true/false, 1/0 as the SDKs send them; None when absent or unreadable."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value == 1
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("1", "true", "yes"):
            return True
        if text in ("0", "false", "no"):
            return False
    return None


def cpm_to_micros(value: Decimal | None, field: str) -> int | None:
    if value is None:
        return None
    try:
        if not value.is_finite() or value < 0:
            raise WireError(f"{field}: must be a non-negative number")
        return int(value * MICROS)
    except InvalidOperation as exc:
        raise WireError(f"{field}: not a number") from exc


def micros_to_cpm(micros: int) -> float:
    """For the wire only: the SDKs read the CPM as a JSON number."""
    return micros / 1_000_000


def text(value: str | None, limit: int = 512) -> str | None:
    return value[:limit] if value else None

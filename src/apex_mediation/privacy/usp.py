"""IAB US Privacy (CCPA) strings such as "1YNN": version, notice, opt-out of sale, LSPA."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from .errors import ConsentStringError

__all__ = ["USPrivacy", "decode_us_privacy", "parse_us_privacy"]

# Some SDKs send lower case; the meaning is unambiguous.
_FLAGS = {"Y": "Y", "N": "N", "-": "-", "y": "Y", "n": "N"}


@dataclass(frozen=True, slots=True)
class USPrivacy:
    version: int
    notice: str  # "Y" notice given, "N" not given, "-" not applicable
    opt_out_sale: str  # "Y" the user opted out of the sale of personal data
    lspa_covered: str  # "Y" the publisher signed the IAB LSPA

    @property
    def opted_out(self) -> bool:
        return self.opt_out_sale == "Y"


@functools.lru_cache(maxsize=4096)
def decode_us_privacy(value: str) -> USPrivacy:
    """Decode a US Privacy string; raises ConsentStringError if it is not a version 1 one."""
    if len(value) != 4:
        raise ConsentStringError(f"usp: expected 4 characters, got {len(value)}")
    if value[0] != "1":
        raise ConsentStringError(f"usp: unsupported version {value[0]!r}")
    flags = [_FLAGS.get(flag) for flag in value[1:]]
    notice, opt_out, lspa = flags
    if notice is None or opt_out is None or lspa is None:
        raise ConsentStringError(f"usp: {value[1:]!r} is not three of Y, N or -")
    return USPrivacy(version=1, notice=notice, opt_out_sale=opt_out, lspa_covered=lspa)


def parse_us_privacy(value: str | None) -> tuple[USPrivacy | None, str | None]:
    """The string decoded, or (None, reason) when it is invalid: invalid counts as absent."""
    if not value:
        return None, None
    try:
        return decode_us_privacy(value), None
    except ConsentStringError as error:
        return None, f"usp: invalid string ignored ({error})"

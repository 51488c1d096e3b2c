"""Privacy signals (TCF, GPP, US Privacy, COPPA, LMT, ATT) and what they allow per bidder.

Pure functions on the hot path: decoded consent strings are cached, nothing does I/O.
"""

from .errors import ConsentStringError
from .gpp import GPPString, UsNat, decode_gpp, decode_usnat
from .policy import Decision, apply, decide, truncate_ip
from .tcf import PublisherRestriction, RestrictionType, TCString, VendorSet, decode_tc_string
from .usp import USPrivacy, decode_us_privacy, parse_us_privacy

__all__ = [
    "ConsentStringError",
    "Decision",
    "GPPString",
    "PublisherRestriction",
    "RestrictionType",
    "TCString",
    "USPrivacy",
    "UsNat",
    "VendorSet",
    "apply",
    "decide",
    "decode_gpp",
    "decode_tc_string",
    "decode_us_privacy",
    "decode_usnat",
    "parse_us_privacy",
    "truncate_ip",
]

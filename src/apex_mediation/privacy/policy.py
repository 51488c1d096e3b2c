"""The per-bidder privacy decision, and the redaction of a request that may not be personalised.

`decide` never raises: a consent string that cannot be decoded becomes a reason, and counts as
absent (so under GDPR, as no consent).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import msgspec

from apex_mediation.auction.model import AuctionRequest, Device, Privacy

from .errors import ConsentStringError
from .gpp import TCF_EU_V2, USNAT, USP_V1, GPPString, decode_gpp, decode_usnat
from .tcf import RestrictionType, TCString, decode_tc_string
from .usp import USPrivacy, decode_us_privacy, parse_us_privacy

__all__ = ["Decision", "apply", "decide", "truncate_ip"]

STORE_ACCESS = 1  # TCF purpose 1: store and/or access information on a device
PERSONALISED_ADS = (3, 4)  # TCF purposes: create and use a personalised ads profile
# Purpose 1 is consent-only, and since TCF 2.2 legitimate interest may not be the legal basis
# for purposes 3 to 6.
_CONSENT_ONLY = frozenset({1, 3, 4, 5, 6})
_ATT_AUTHORIZED = 3
_ATT_PLATFORMS = frozenset({"ios", "ipados", "tvos"})


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool  # the bidder may be called at all
    personalised: bool  # ids and precise IP may be sent
    reasons: tuple[str, ...] = ()


def decide(
    privacy: Privacy, device: Device, *, gvl_id: int | None, purposes: frozenset[int]
) -> Decision:
    """What this bidder may receive, given the request's privacy signals.

    `gvl_id` is the network's id in the IAB Global Vendor List and `purposes` the TCF purposes
    it needs to be called at all; personalised ads additionally need purposes 3 and 4.
    """
    reasons: list[str] = []
    gpp = _decode_gpp(privacy, reasons)
    allowed, personalised = _gdpr(privacy, gpp, gvl_id, purposes, reasons)
    if privacy.coppa:
        reasons.append("coppa: child-directed, no personalisation")
        personalised = False
    if _us_opted_out(privacy, gpp, reasons):
        personalised = False
    if privacy.limit_ad_tracking:
        reasons.append("lmt: limit ad tracking")
        personalised = False
    # ATT status None means the SDK did not say (pre-iOS 14): LMT still covers that case.
    os_name = (device.os or "").lower()
    if os_name in _ATT_PLATFORMS and device.att_status not in (None, _ATT_AUTHORIZED):
        reasons.append("att: not authorized")
        personalised = False
    return Decision(allowed=allowed, personalised=allowed and personalised, reasons=tuple(reasons))


def apply(request: AuctionRequest, decision: Decision) -> AuctionRequest:
    """A copy of the request holding only what the decision allows (the same object if all)."""
    if decision.personalised:
        return request
    device = msgspec.structs.replace(
        request.device, ifa=None, ifa_type=None, ip=_anonymised_ip(request.device.ip)
    )
    return msgspec.structs.replace(request, device=device, install_id=None)


def truncate_ip(ip: str) -> str:
    """IPv4 to its /24 ("a.b.c.0"), IPv6 to its /48 network address; ValueError if not an IP."""
    address = ipaddress.ip_address(ip.strip())
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # keep the mapped form, truncate the IPv4 inside
            return f"::ffff:{truncate_ip(str(address.ipv4_mapped))}"
        return str(ipaddress.IPv6Address(int(address) >> 80 << 80))
    return str(ipaddress.IPv4Address(int(address) >> 8 << 8))


def _anonymised_ip(ip: str | None) -> str | None:
    if not ip:
        return None
    try:
        return truncate_ip(ip)
    except ValueError:
        return None  # not an address we can truncate, so send none


def _decode_gpp(privacy: Privacy, reasons: list[str]) -> GPPString | None:
    if not privacy.gpp:
        return None
    try:
        return decode_gpp(privacy.gpp)
    except ConsentStringError as error:
        reasons.append(f"gpp: invalid string ignored ({error})")
        return None


def _gpp_section(privacy: Privacy, gpp: GPPString | None, section_id: int) -> str | None:
    """A GPP section's raw string when present and, if gpp_sid was sent, listed as applying."""
    if gpp is None or (privacy.gpp_sid and section_id not in privacy.gpp_sid):
        return None
    return gpp.raw(section_id)


def _gdpr(
    privacy: Privacy,
    gpp: GPPString | None,
    gvl_id: int | None,
    purposes: frozenset[int],
    reasons: list[str],
) -> tuple[bool, bool]:
    """(allowed, personalised) under GDPR; both True when GDPR does not apply."""
    tc_source = privacy.tcf_consent or _gpp_section(privacy, gpp, TCF_EU_V2)
    applies = privacy.gdpr_applies
    if applies is None:
        applies = tc_source is not None  # a CMP only writes a TC string where GDPR applies
    if not applies:
        return True, True
    if tc_source is None:
        reasons.append("gdpr: applies but there is no TC string")
        return False, False
    try:
        tc = decode_tc_string(tc_source)
    except ConsentStringError as error:
        reasons.append(f"gdpr: invalid TC string ({error})")
        return False, False
    if gvl_id is None:
        reasons.append("gdpr: network not in the Global Vendor List")
        return False, False

    vendor_consent = gvl_id in tc.vendor_consents
    vendor_li = gvl_id in tc.vendor_legitimate_interests
    allowed = vendor_consent or vendor_li
    # A vendor with no basis at all gets one reason below, not one per purpose.
    basis = (vendor_consent, vendor_li) if allowed else (True, True)
    for purpose in sorted(purposes | {STORE_ACCESS}):
        reason = _purpose_refusal(tc, purpose, gvl_id, *basis)
        if reason is not None:
            reasons.append(reason)
            allowed = False
    if not (vendor_consent or vendor_li):
        reasons.append(f"gdpr: vendor {gvl_id} has no consent")
    if not allowed:
        return False, False

    personalised = True
    for purpose in PERSONALISED_ADS:
        reason = _purpose_refusal(tc, purpose, gvl_id, vendor_consent, vendor_li)
        if reason is not None:
            reasons.append(f"{reason}, no personalisation")
            personalised = False
    return True, personalised


def _purpose_refusal(
    tc: TCString, purpose: int, vendor: int, vendor_consent: bool, vendor_li: bool
) -> str | None:
    """Why this vendor may not process data for this purpose, or None if it may.

    A purpose is allowed on a legal basis both the user (purpose bit) and the vendor (vendor bit)
    granted, as narrowed by any publisher restriction.
    """
    restriction = tc.restriction(purpose, vendor)
    if restriction is RestrictionType.NOT_ALLOWED:
        return f"gdpr: publisher does not allow purpose {purpose} for vendor {vendor}"
    consent_only = purpose in _CONSENT_ONLY or restriction is RestrictionType.REQUIRE_CONSENT
    by_consent = (
        purpose in tc.purpose_consents
        and restriction is not RestrictionType.REQUIRE_LEGITIMATE_INTEREST
    )
    by_li = purpose in tc.purpose_legitimate_interests and not consent_only
    if (by_consent and vendor_consent) or (by_li and vendor_li):
        return None
    if by_consent or by_li:
        basis = "consent" if by_consent else "legitimate interest"
        return f"gdpr: vendor {vendor} has no {basis} for purpose {purpose}"
    if consent_only:
        return f"gdpr: no consent for purpose {purpose}"
    return f"gdpr: no consent or legitimate interest for purpose {purpose}"


def _us_opted_out(privacy: Privacy, gpp: GPPString | None, reasons: list[str]) -> bool:
    """Whether a US signal (US Privacy, or GPP's uspv1 or usnat) restricts personalisation."""
    opted_out = False
    usp, reason = parse_us_privacy(privacy.us_privacy)
    if reason is not None:
        reasons.append(reason)
    if not privacy.us_privacy:
        usp = _gpp_us_privacy(privacy, gpp, reasons)
    if usp is not None and usp.opted_out:
        reasons.append("usp: opted out of sale")
        opted_out = True

    raw_usnat = _gpp_section(privacy, gpp, USNAT)
    if raw_usnat is None:
        return opted_out
    try:
        usnat = decode_usnat(raw_usnat)
    except ConsentStringError as error:
        reasons.append(f"gpp: invalid usnat section ignored ({error})")
        return opted_out
    for flag, what in (
        (usnat.opted_out_of_sale, "opted out of sale"),
        (usnat.opted_out_of_sharing, "opted out of sharing"),
        (usnat.opted_out_of_targeted_advertising, "opted out of targeted advertising"),
        (usnat.known_child_without_consent, "known child without consent"),
        # Global Privacy Control is a legally binding opt-out of sale and sharing in California.
        (usnat.gpc is True, "global privacy control"),
    ):
        if flag:
            reasons.append(f"gpp: usnat {what}")
            opted_out = True
    return opted_out


def _gpp_us_privacy(
    privacy: Privacy, gpp: GPPString | None, reasons: list[str]
) -> USPrivacy | None:
    raw = _gpp_section(privacy, gpp, USP_V1)
    if raw is None:
        return None
    try:
        return decode_us_privacy(raw)
    except ConsentStringError as error:
        reasons.append(f"gpp: invalid uspv1 section ignored ({error})")
        return None

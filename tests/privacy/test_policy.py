"""The per-bidder decision: one table row per rule, and rows for combinations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import pytest

from apex_mediation.auction.model import Device, Privacy
from apex_mediation.privacy import Decision, decide
from tests.privacy.encoding import gpp_string, tc_string, usnat

VENDOR = 52
BIDDER_PURPOSES = frozenset({1, 2, 7})

CONSENT_ALL = tc_string(
    purposes=range(1, 11), purposes_li=(2, 7, 8, 9, 10), vendors=[VENDOR, 755], vendors_li=[VENDOR]
)
REJECT_ALL = tc_string()
NO_ADS_PROFILE = tc_string(purposes=(1, 2, 7), vendors=[VENDOR])
PURPOSE_1_BY_LI = tc_string(
    purposes=(2, 3, 4), purposes_li=(1, 2, 7), vendors=[VENDOR], vendors_li=[VENDOR]
)
PURPOSE_7_BY_LI_VENDOR_CONSENT_ONLY = tc_string(
    purposes=(1, 2, 3, 4), purposes_li=(7,), vendors=[VENDOR]
)
PURPOSE_7_BY_LI = tc_string(
    purposes=(1, 2, 3, 4), purposes_li=(7,), vendors=[VENDOR], vendors_li=[VENDOR]
)
PURPOSE_3_BY_LI = tc_string(purposes=(1, 2, 4, 7), purposes_li=(3,), vendors=[VENDOR])
OTHER_VENDORS = tc_string(purposes=range(1, 11), vendors=[1, 2, 3, 755])
VENDOR_LI_ONLY = tc_string(purposes=range(1, 11), purposes_li=(2, 7), vendors_li=[VENDOR])
NO_PURPOSE_2 = tc_string(purposes=(1, 2, 3, 4), purposes_li=(7,), vendors=[VENDOR])
FORBIDS_PURPOSE_2 = tc_string(
    purposes=range(1, 11), vendors=[VENDOR], restrictions=[(2, 0, [50, 51, VENDOR])]
)
FORBIDS_OTHER_VENDOR = tc_string(
    purposes=range(1, 11), vendors=[VENDOR], restrictions=[(2, 0, [VENDOR + 1])]
)
REQUIRES_CONSENT_FOR_7 = tc_string(
    purposes=(1, 2, 3, 4),
    purposes_li=(7,),
    vendors=[VENDOR],
    vendors_li=[VENDOR],
    restrictions=[(7, 1, [VENDOR])],
)

REJECT_ALL_REASONS = (
    "gdpr: no consent for purpose 1",
    "gdpr: no consent or legitimate interest for purpose 2",
    "gdpr: no consent or legitimate interest for purpose 7",
    f"gdpr: vendor {VENDOR} has no consent",
)
NO_PERSONALISATION = (
    "gdpr: no consent for purpose 3, no personalisation",
    "gdpr: no consent for purpose 4, no personalisation",
)
IOS_DENIED: dict[str, Any] = {"os": "ios", "att_status": 2}


class Case(NamedTuple):
    id: str
    privacy: dict[str, Any]
    reasons: tuple[str, ...]
    allowed: bool
    personalised: bool
    device: dict[str, Any]
    keywords: dict[str, Any]  # for decide, over gvl_id=VENDOR, purposes=BIDDER_PURPOSES


def _case(allowed: bool, personalised: bool) -> Callable[..., Case]:
    def make(
        id: str,
        privacy: dict[str, Any],
        *reasons: str,
        device: dict[str, Any] | None = None,
        keywords: dict[str, Any] | None = None,
    ) -> Case:
        return Case(id, privacy, reasons, allowed, personalised, device or {}, keywords or {})

    return make


def eu(tc_consent: str, **more: Any) -> dict[str, Any]:
    """Privacy fields for a request where GDPR applies."""
    return {"gdpr_applies": True, "tcf_consent": tc_consent, **more}


full = _case(allowed=True, personalised=True)  # called with ids and precise IP
limited = _case(allowed=True, personalised=False)  # called, without ids or precise IP
refused = _case(allowed=False, personalised=False)  # not called

CASES = [
    full("no signals", {}),
    # GDPR and the TC string
    refused(
        "gdpr applies, no TC string",
        {"gdpr_applies": True},
        "gdpr: applies but there is no TC string",
    ),
    refused(
        "gdpr applies, empty TC string",
        {"gdpr_applies": True, "tcf_consent": ""},
        "gdpr: applies but there is no TC string",
    ),
    refused(
        "gdpr applies, invalid TC string",
        {"gdpr_applies": True, "tcf_consent": "garbage!"},
        "gdpr: invalid TC string (tcf: not base64url)",
    ),
    refused(
        "gdpr applies, TCF v1 string",
        {"gdpr_applies": True, "tcf_consent": "BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA"},
        "gdpr: invalid TC string (tcf: unsupported version 1)",
    ),
    full("consent to all", eu(CONSENT_ALL)),
    refused("reject all", eu(REJECT_ALL), *REJECT_ALL_REASONS),
    refused(
        "purpose 1 needs consent, not legitimate interest",
        eu(PURPOSE_1_BY_LI),
        "gdpr: no consent for purpose 1",
    ),
    full("a bidder purpose by legitimate interest", eu(PURPOSE_7_BY_LI)),
    refused(
        "user and vendor on different legal bases",
        eu(PURPOSE_7_BY_LI_VENDOR_CONSENT_ONLY),
        f"gdpr: vendor {VENDOR} has no legitimate interest for purpose 7",
    ),
    refused(
        "a bidder purpose with neither basis",
        eu(NO_PURPOSE_2),
        "gdpr: no consent or legitimate interest for purpose 9",
        keywords={"purposes": frozenset({1, 2, 9})},
    ),
    refused(
        "vendor absent from the TC string",
        eu(OTHER_VENDORS),
        f"gdpr: vendor {VENDOR} has no consent",
    ),
    refused(
        "vendor with legitimate interest only cannot use purpose 1",
        eu(VENDOR_LI_ONLY),
        f"gdpr: vendor {VENDOR} has no consent for purpose 1",
    ),
    refused(
        "network not in the GVL",
        eu(CONSENT_ALL),
        "gdpr: network not in the Global Vendor List",
        keywords={"gvl_id": None},
    ),
    limited("no consent for an ads profile", eu(NO_ADS_PROFILE), *NO_PERSONALISATION),
    limited(
        "legitimate interest does not count for purpose 3",
        eu(PURPOSE_3_BY_LI),
        *NO_PERSONALISATION[:1],
    ),
    refused(
        "bidder that needs purposes 3 and 4",
        eu(NO_ADS_PROFILE),
        "gdpr: no consent for purpose 3",
        "gdpr: no consent for purpose 4",
        keywords={"purposes": frozenset({1, 3, 4})},
    ),
    refused(
        "publisher forbids a purpose for the vendor",
        eu(FORBIDS_PURPOSE_2),
        f"gdpr: publisher does not allow purpose 2 for vendor {VENDOR}",
    ),
    full("publisher restriction on another vendor", eu(FORBIDS_OTHER_VENDOR)),
    refused(
        "publisher requires consent where the user gave legitimate interest",
        eu(REQUIRES_CONSENT_FOR_7),
        "gdpr: no consent for purpose 7",
    ),
    refused(
        "gdpr_applies unknown, TC string present: applies",
        {"tcf_consent": REJECT_ALL},
        *REJECT_ALL_REASONS,
    ),
    full("gdpr_applies unknown, no TC string", {}, keywords={"gvl_id": None}),
    full(
        "gdpr does not apply",
        {"gdpr_applies": False, "tcf_consent": REJECT_ALL},
        keywords={"gvl_id": None},
    ),
    # GPP's TCF EU section
    full(
        "GPP TCF section stands in for the TC string",
        {"gdpr_applies": True, "gpp": gpp_string({2: CONSENT_ALL})},
    ),
    refused(
        "GPP TCF section makes GDPR apply",
        {"gpp": gpp_string({2: REJECT_ALL}), "gpp_sid": (2,)},
        *REJECT_ALL_REASONS,
    ),
    full(
        "the TC string wins over the GPP section",
        {"tcf_consent": CONSENT_ALL, "gpp": gpp_string({2: REJECT_ALL})},
    ),
    full(
        "GPP TCF section not in gpp_sid",
        {"gpp": gpp_string({2: REJECT_ALL, 7: usnat()}), "gpp_sid": (7,)},
    ),
    refused(
        "invalid GPP TCF section",
        {"gdpr_applies": True, "gpp": gpp_string({2: "CPX"})},
        "gdpr: invalid TC string (tcf: truncated at bit 6)",
    ),
    # COPPA, US Privacy and GPP's US sections
    limited("coppa", {"coppa": True}, "coppa: child-directed, no personalisation"),
    limited("usp opted out", {"us_privacy": "1YYN"}, "usp: opted out of sale"),
    full("usp not opted out", {"us_privacy": "1YNN"}),
    full("usp not applicable", {"us_privacy": "1---"}),
    full(
        "usp invalid",
        {"us_privacy": "1Y"},
        "usp: invalid string ignored (usp: expected 4 characters, got 2)",
    ),
    limited(
        "GPP uspv1 section opted out", {"gpp": gpp_string({6: "1YYN"})}, "usp: opted out of sale"
    ),
    full(
        "us_privacy wins over the GPP uspv1 section",
        {"us_privacy": "1YNN", "gpp": gpp_string({6: "1YYN"})},
    ),
    full(
        "invalid GPP uspv1 section",
        {"gpp": gpp_string({6: "1X"})},
        "gpp: invalid uspv1 section ignored (usp: expected 4 characters, got 2)",
    ),
    full("usnat, no opt-out", {"gpp": gpp_string({7: usnat()})}),
    limited(
        "usnat sale opt-out",
        {"gpp": gpp_string({7: usnat(sale_opt_out=1)})},
        "gpp: usnat opted out of sale",
    ),
    limited(
        "usnat sharing opt-out",
        {"gpp": gpp_string({7: usnat(sharing_opt_out=1)})},
        "gpp: usnat opted out of sharing",
    ),
    limited(
        "usnat targeted advertising opt-out (2022 layout)",
        {
            "gpp": gpp_string(
                {7: usnat(targeted_advertising_opt_out=1, sensitive=(0,) * 12, known_child=(0, 0))}
            )
        },
        "gpp: usnat opted out of targeted advertising",
    ),
    limited(
        "usnat known child without consent",
        {"gpp": gpp_string({7: usnat(known_child=(0, 1, 0))})},
        "gpp: usnat known child without consent",
    ),
    limited(
        "usnat global privacy control",
        {"gpp": gpp_string({7: usnat(gpc=True)})},
        "gpp: usnat global privacy control",
    ),
    full("usnat gpc false", {"gpp": gpp_string({7: usnat(gpc=False)})}),
    full("usnat not in gpp_sid", {"gpp": gpp_string({7: usnat(sale_opt_out=1)}), "gpp_sid": (8,)}),
    full(
        "invalid usnat section",
        {"gpp": gpp_string({7: "B"})},
        "gpp: invalid usnat section ignored (usnat: truncated at bit 6)",
    ),
    full(
        "invalid GPP string",
        {"gpp": "not a gpp string"},
        "gpp: invalid string ignored (gpp header: not base64url)",
    ),
    # Device signals
    limited("lmt", {"limit_ad_tracking": True}, "lmt: limit ad tracking"),
    limited("att denied", {}, "att: not authorized", device=IOS_DENIED),
    limited("att not determined", {}, "att: not authorized", device={"os": "iOS", "att_status": 0}),
    limited("att on tvOS", {}, "att: not authorized", device={"os": "tvos", "att_status": 1}),
    full("att authorized", {}, device={"os": "ios", "att_status": 3}),
    full("att unknown", {}, device={"os": "ios"}),
    full("att status on android", {}, device={"os": "android", "att_status": 0}),
    # Combinations
    limited(
        "consent, but child-directed, LMT, ATT denied and opted out",
        {
            "gdpr_applies": True,
            "tcf_consent": CONSENT_ALL,
            "coppa": True,
            "limit_ad_tracking": True,
            "us_privacy": "1YYN",
        },
        "coppa: child-directed, no personalisation",
        "usp: opted out of sale",
        "lmt: limit ad tracking",
        "att: not authorized",
        device=IOS_DENIED,
    ),
    limited(
        "no ads profile and usnat opt-out",
        {
            "gdpr_applies": True,
            "tcf_consent": NO_ADS_PROFILE,
            "gpp": gpp_string({2: REJECT_ALL, 7: usnat(sale_opt_out=1, sharing_opt_out=1)}),
        },
        *NO_PERSONALISATION,
        "gpp: usnat opted out of sale",
        "gpp: usnat opted out of sharing",
    ),
    refused(
        "reject all and usp opt-out",
        {"gdpr_applies": True, "tcf_consent": REJECT_ALL, "us_privacy": "1YYN"},
        *REJECT_ALL_REASONS,
        "usp: opted out of sale",
    ),
    refused(
        "everything invalid",
        {"gdpr_applies": True, "tcf_consent": "%%", "gpp": "~~", "us_privacy": "x"},
        "gpp: invalid string ignored (gpp header: empty segment)",
        "gdpr: invalid TC string (tcf: not base64url)",
        "usp: invalid string ignored (usp: expected 4 characters, got 1)",
    ),
]


@pytest.mark.parametrize("case", [pytest.param(case, id=case.id) for case in CASES])
def test_decide(case: Case) -> None:
    keywords: dict[str, Any] = {"gvl_id": VENDOR, "purposes": BIDDER_PURPOSES, **case.keywords}
    decision = decide(Privacy(**case.privacy), Device(**case.device), **keywords)
    assert decision == Decision(case.allowed, case.personalised, case.reasons)


@pytest.mark.parametrize("range_encoded", [False, True])
@pytest.mark.parametrize(
    ("vendors", "allowed"),
    [([VENDOR], True), ([1, 2, VENDOR, 60, 61, 62], True), ([1, 2, 60], False), ([], False)],
)
def test_vendor_encoding_does_not_matter(
    range_encoded: bool, vendors: list[int], allowed: bool
) -> None:
    consent = tc_string(purposes=range(1, 11), vendors=vendors, range_encoded=range_encoded)
    privacy = Privacy(gdpr_applies=True, tcf_consent=consent)
    decision = decide(privacy, Device(), gvl_id=VENDOR, purposes=BIDDER_PURPOSES)
    assert (decision.allowed, decision.personalised) == (allowed, allowed)

"""Properties: decoders raise nothing but ConsentStringError, and decide never raises at all."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from apex_mediation.auction.model import AuctionRequest, Device, Privacy
from apex_mediation.privacy import (
    ConsentStringError,
    Decision,
    apply,
    decide,
    decode_gpp,
    decode_tc_string,
    decode_us_privacy,
    decode_usnat,
)
from tests.privacy import encoding
from tests.privacy.test_gpp import IABGPP_JAVA_ALL
from tests.privacy.test_tcf import IABTCF_JAVA_ALL_SEGMENTS, IABTCF_JAVA_TWO_RANGE, SIRDATA_CORE

VALID_TC = [
    IABTCF_JAVA_ALL_SEGMENTS,
    IABTCF_JAVA_TWO_RANGE,
    SIRDATA_CORE,
    encoding.tc_string(
        purposes=range(1, 11), vendors=[52], range_encoded=True, restrictions=[(2, 1, [52, 53])]
    ),
]
VALID_GPP = [
    IABGPP_JAVA_ALL,
    "DBACNYA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA~1YNN",
    encoding.gpp_string({2: VALID_TC[3], 6: "1YYN", 7: encoding.usnat(sale_opt_out=1, gpc=True)}),
]
VALID_USNAT = ["BVVVkkkklWA.YA", "BVVVkkkkkpFY.YA", encoding.usnat(known_child=(1, 1, 1))]


@st.composite
def mutated(draw: st.DrawFn, valid: list[str]) -> str:
    """A valid string with a few characters replaced, dropped or inserted, or cut short."""
    value = draw(st.sampled_from(valid))
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(value)))
        char = draw(st.sampled_from(encoding.ALPHABET + ".~"))
        action = draw(st.sampled_from(["replace", "drop", "insert", "cut"]))
        if action == "replace":
            value = value[:position] + char + value[position + 1 :]
        elif action == "drop":
            value = value[:position] + value[position + 1 :]
        elif action == "insert":
            value = value[:position] + char + value[position:]
        else:
            value = value[:position]
    return value


def consent_text(valid: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=80),
        st.text(alphabet=encoding.ALPHABET + ".~=+/", max_size=400),
        st.sampled_from(valid),
        mutated(valid),
    )


def raises_only_consent_errors(decoder: Callable[[str], object], value: str) -> None:
    with contextlib.suppress(ConsentStringError):
        decoder(value)


@settings(max_examples=400)
@given(consent_text(VALID_TC))
def test_tc_decoder(value: str) -> None:
    raises_only_consent_errors(decode_tc_string, value)


@settings(max_examples=400)
@given(consent_text(VALID_GPP))
def test_gpp_decoder(value: str) -> None:
    try:
        gpp = decode_gpp(value)
    except ConsentStringError:
        return
    assert len(gpp.section_ids) == len(gpp.sections)
    for section_id, decoder in ((2, decode_tc_string), (6, decode_us_privacy), (7, decode_usnat)):
        raw = gpp.raw(section_id)
        if raw is not None:
            raises_only_consent_errors(decoder, raw)


@settings(max_examples=300)
@given(consent_text(VALID_USNAT))
def test_usnat_decoder(value: str) -> None:
    raises_only_consent_errors(decode_usnat, value)


@given(st.one_of(st.text(max_size=8), st.sampled_from(["1YNN", "1---", "1yyn"])))
def test_us_privacy_decoder(value: str) -> None:
    raises_only_consent_errors(decode_us_privacy, value)


privacies = st.builds(
    Privacy,
    gdpr_applies=st.none() | st.booleans(),
    tcf_consent=st.none() | consent_text(VALID_TC),
    us_privacy=st.none() | st.text(max_size=6) | st.sampled_from(["1YYN", "1YNN"]),
    gpp=st.none() | consent_text(VALID_GPP),
    gpp_sid=st.lists(st.integers(-1, 30), max_size=4).map(tuple),
    coppa=st.booleans(),
    limit_ad_tracking=st.booleans(),
)
devices = st.builds(
    Device,
    os=st.none() | st.sampled_from(["ios", "iOS", "android", "tvos", "web", ""]),
    att_status=st.none() | st.integers(-3, 9),
    ip=st.none() | st.ip_addresses().map(str) | st.text(max_size=40),
    ifa=st.none() | st.uuids().map(str),
)


@settings(max_examples=400)
@given(
    privacy=privacies,
    device=devices,
    gvl_id=st.none() | st.integers(-5, 70_000),
    purposes=st.frozensets(st.integers(-2, 30), max_size=6),
)
def test_decide_never_raises(
    privacy: Privacy, device: Device, gvl_id: int | None, purposes: frozenset[int]
) -> None:
    decision = decide(privacy, device, gvl_id=gvl_id, purposes=purposes)
    assert isinstance(decision, Decision)
    assert decision.allowed or not decision.personalised
    assert all(isinstance(reason, str) and ": " in reason for reason in decision.reasons)
    request = AuctionRequest(
        request_id="r", placement_id="p", ad_format="banner", platform="ios", device=device
    )
    redacted = apply(request, decision)
    if not decision.personalised:
        assert redacted.device.ifa is None
        assert redacted.install_id is None

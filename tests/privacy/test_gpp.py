"""GPP strings: the header's Fibonacci ranges, section splitting, and the decoded sections."""

from __future__ import annotations

import pytest

from apex_mediation.privacy import ConsentStringError, USPrivacy, decode_gpp, decode_usnat
from apex_mediation.privacy.gpp import TCF_EU_V2, USNAT, USP_V1
from tests.privacy import encoding
from tests.privacy.test_tcf import GPP_SPEC_TCF, IABGPP_JAVA_TCF

# Headers from the GPP Consent String Specification ("Header Examples", "GPP String Examples")
# and iabgpp-java's HeaderV1Test / GppModelTest.
IABGPP_JAVA_ALL = (
    "DBACOdM~CPSG_8APSG_8AAAAAAENAACAAAAAAAAAAAAAAAAAAAAA.QAAA.IAAA~BPSG_8APSG_8AAAAAAENAACAAAAAAA"
    "AAAAAAAAAAAA.YAAAAAAAAAA~1---~BAAAAAAAAABA.QA~BAAAAABA.QA~BAAAABA~BAAAAEA.QA~BAAAAAQA~BAAAAA"
    "EA.QA~BAAAAABA~BAAAAABA.QA~BAAAAAABAA.QA~BAAAAAQA.QA~BAAAAAABAA.QA~BAAAAAQA.QA~BAAAAAQA.QA~"
    "BAAAAABA.QA~BAAAAAAAQA.QA~BAAAAAQA.QA"
)


@pytest.mark.parametrize(
    ("value", "section_ids"),
    [
        ("DBAA", ()),
        ("DBABM~" + GPP_SPEC_TCF, (2,)),  # spec header example 1, as printed in the table
        ("DBABMA~" + GPP_SPEC_TCF, (2,)),
        ("DBACNYA~" + GPP_SPEC_TCF + "~1YNN", (2, 6)),
        ("DBABjw~" + GPP_SPEC_TCF + "~1YNN", (5, 6)),  # a range: ids 5 to 6
        ("DBABTA~1YNN", (6,)),
        ("DBACNYA~" + IABGPP_JAVA_TCF + "~1YNN", (2, 6)),
        (IABGPP_JAVA_ALL, (2, *range(5, 23))),
    ],
)
def test_published_headers(value: str, section_ids: tuple[int, ...]) -> None:
    gpp = decode_gpp(value)
    assert gpp.version == 1
    assert gpp.section_ids == section_ids
    assert gpp.sections == tuple(value.split("~")[1:])


def test_sections_are_decoded_on_demand() -> None:
    gpp = decode_gpp("DBACNYA~" + IABGPP_JAVA_TCF + "~1YNN")
    tc = gpp.tcf_eu_v2()
    assert tc is not None
    assert (tc.cmp_id, tc.vendor_list_version) == (880, 48)
    assert gpp.us_privacy() == USPrivacy(1, "Y", "N", "N")
    assert gpp.usnat() is None


def test_unknown_sections_are_kept_raw() -> None:
    gpp = decode_gpp("DBABjw~" + GPP_SPEC_TCF + "~1YNN")  # 5 is TCF Canada: not decoded here
    assert gpp.raw(5) == GPP_SPEC_TCF
    assert gpp.tcf_eu_v2() is None


def test_all_sections_example() -> None:
    gpp = decode_gpp(IABGPP_JAVA_ALL)
    assert gpp.us_privacy() == USPrivacy(1, "-", "-", "-")
    usnat = gpp.usnat()
    assert usnat is not None
    assert usnat.sensitive_data_processing == (0,) * 16
    assert usnat.known_child_sensitive_data_consents == (0, 0, 0)
    assert usnat.mspa_covered_transaction == 1
    assert usnat.gpc is False
    assert gpp.raw(22) == "BAAAAAQA.QA"


# US National sections from iabgpp-java's UsNatTest: the 2022 layout (12 sensitive data and 2
# known-child entries) and the 2024 one (16 and 3), both with GPC set.
@pytest.mark.parametrize(
    ("value", "sensitive", "known_child", "gpc"),
    [
        ("BVVVkkkklWA.YA", (2, 1, 0) * 4, (2, 1), True),
        ("BVVVkkkklWA", (2, 1, 0) * 4, (2, 1), None),
        ("BVVVkkkkkpFY.YA", (*(2, 1, 0) * 5, 2), (2, 1, 0), True),
        ("BAAAAAAAAQA.QA", (0,) * 12, (0, 0), False),
        ("BAAAAAAAAABA.QA", (0,) * 16, (0, 0, 0), False),
    ],
)
def test_published_usnat(
    value: str, sensitive: tuple[int, ...], known_child: tuple[int, ...], gpc: bool | None
) -> None:
    usnat = decode_usnat(value)
    assert usnat.sensitive_data_processing == sensitive
    assert usnat.known_child_sensitive_data_consents == known_child
    assert usnat.gpc is gpc
    if value.startswith("BV"):
        assert usnat.sharing_notice == usnat.sale_opt_out_notice == 1
        assert usnat.opted_out_of_sale and usnat.opted_out_of_sharing
        assert usnat.opted_out_of_targeted_advertising
        assert usnat.known_child_without_consent
        assert usnat.personal_data_consents == 1
        assert (usnat.mspa_opt_out_option_mode, usnat.mspa_service_provider_mode) == (1, 2)
    else:
        assert not (usnat.opted_out_of_sale or usnat.known_child_without_consent)


@pytest.mark.parametrize("long_layout", [True, False])
@pytest.mark.parametrize(
    ("fields", "sale", "sharing", "targeted", "child"),
    [
        ({}, False, False, False, False),
        ({"sale_opt_out": 1}, True, False, False, False),
        ({"sharing_opt_out": 1}, False, True, False, False),
        ({"targeted_advertising_opt_out": 1}, False, False, True, False),
        ({"known_child": (2, 1, 0)}, False, False, False, True),
        ({"known_child": (0, 2, 2)}, False, False, False, False),
    ],
)
def test_usnat_opt_outs(
    long_layout: bool,
    fields: dict[str, object],
    sale: bool,
    sharing: bool,
    targeted: bool,
    child: bool,
) -> None:
    if not long_layout:
        known_child = fields.get("known_child", (0, 0, 0))
        assert isinstance(known_child, tuple)
        fields = {**fields, "sensitive": (0,) * 12, "known_child": known_child[:2]}
    usnat = decode_usnat(encoding.usnat(**fields))  # type: ignore[arg-type]
    assert len(usnat.sensitive_data_processing) == (16 if long_layout else 12)
    assert usnat.opted_out_of_sale is sale
    assert usnat.opted_out_of_sharing is sharing
    assert usnat.opted_out_of_targeted_advertising is targeted
    assert usnat.known_child_without_consent is child


def test_short_layout_padded_like_the_long_one() -> None:
    """60 bits zero-padded to 72 (a multiple of 24) must still read as the short layout."""
    short = encoding.usnat(sensitive=(1,) * 12, known_child=(1, 2), mspa_covered_transaction=2)
    padded = short + "A" * (12 - len(short))
    assert len(padded) == 12
    usnat = decode_usnat(padded)
    assert usnat.sensitive_data_processing == (1,) * 12
    assert usnat.known_child_sensitive_data_consents == (1, 2)
    assert usnat.mspa_covered_transaction == 2


@pytest.mark.parametrize(
    "ids",
    [(2,), (6,), (7,), (2, 6, 7), (2, 3, 4, 5), (1, 3, 5, 7, 9), (2, *range(5, 23)), (40, 60)],
)
def test_header_roundtrip(ids: tuple[int, ...]) -> None:
    sections = {sid: f"s{sid}" for sid in ids}
    gpp = decode_gpp(encoding.gpp_string(sections))
    assert gpp.section_ids == ids
    assert all(gpp.raw(sid) == f"s{sid}" for sid in ids)


def test_hand_laid_header() -> None:
    """The spec's header example 2, bit by bit: type 3, version 1, ids 2 and 6."""
    bits = "000011" + "000001" + "000000000010" + "0" + "011" + "0" + "1011"
    assert encoding.b64(bits) == "DBACNY"
    assert encoding.gpp_header([2, 6]) == "DBACNY"
    assert encoding.fibonacci(4) == "1011"


def test_constants() -> None:
    assert (TCF_EU_V2, USP_V1, USNAT) == (2, 6, 7)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty segment"),
        ("DBABMA", "more sections than the string has"),
        ("DBACNYA~1YNN", "more sections than the string has"),
        ("DBAA~1YNN", "header lists 0 sections, string has 1"),
        ("CBABMA~x", "header type 2"),
        ("DCABMA~x", "unsupported version 2"),
        ("D$AA", "not base64url"),
        ("DBA", "truncated"),
        # a range entry whose Fibonacci-coded length runs past 40 bits
        (
            encoding.b64("000011000001000000000001" + "1" + "11" + "0" * 45 + "11") + "~x",
            "too long",
        ),
        # a range of ids 1 to 4 with one section: refused before expanding it
        (encoding.b64("000011000001000000000001" + "1" + "11" + "0011") + "~x", "more sections"),
        ("D" * 20_000, "longer than"),
    ],
)
def test_invalid_headers(value: str, message: str) -> None:
    with pytest.raises(ConsentStringError, match=message):
        decode_gpp(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("AVVVkkkklWA", "unsupported version 0"),
        ("BVVV", "truncated"),
        ("", "empty segment"),
        ("BVVVkkkklWA.!", "not base64url"),
    ],
)
def test_invalid_usnat(value: str, message: str) -> None:
    with pytest.raises(ConsentStringError, match=message):
        decode_usnat(value)


def test_invalid_section_raises_only_when_read() -> None:
    gpp = decode_gpp(encoding.gpp_string({2: "not-a-tc-string", 6: "1YNN", 7: "B"}))
    assert gpp.us_privacy() == USPrivacy(1, "Y", "N", "N")
    with pytest.raises(ConsentStringError):
        gpp.tcf_eu_v2()
    with pytest.raises(ConsentStringError):
        gpp.usnat()

"""TC string decoding: published examples, a spec-written encoder, hand-sliced bit layouts."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apex_mediation.privacy import ConsentStringError, RestrictionType, decode_tc_string
from tests.privacy import encoding

# Published strings and the values their publishers' test suites assert.
# iabtcf-java, iabtcf-decoder/src/test/java/com/iabtcf/decoder/TCStringV2Test.java:
IABTCF_JAVA_BASIC = "COtybn4PA_zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAA"
IABTCF_JAVA_BITFIELD = (
    "COrEAV4OrXx94ACABBENAHCIAD-AAAAAAACAAxAAAAgAIAwgAgAAAAEAgQAAAAAEAYQAQAAAACAAAABAAA"
)
IABTCF_JAVA_ALL_SEGMENTS = (
    IABTCF_JAVA_BITFIELD + ".IBAgAAAgAIAwgAgAAAAEAAAACA.QAagAQAgAIAwgA.cAAAAAAAITg="
)
IABTCF_JAVA_RANGE_LI = "COv__-wOv__-wC2AAAENAPCgAAAAAAAAAAAAA_wAQA_gEBABAEAAAA"
_DISCLOSED = (
    "IFoEUQQgAIQwgIwQABAEAAAAOIAACAIAAAAQAIAgEAACEAAAAAgAQBAAAAAAAGBAAgAAAAAAAFAAECAAAgAAQARAEQ"
    "AAAAAJAAIAAgAAAYQEAAAQmAgBC3ZAYzUw"
)
IABTCF_JAVA_TWO_RANGE = "COwBOpCOwBOpCLqAAAENAPCAAAAAAAAAAAAAFfwAYFfAV-BVkAGBVYFWAAA." + _DISCLOSED
IABTCF_JAVA_ONE_RANGE = "COwBOpCOwBOpCLqAAAENAPCAAAAAAAAAAAAAFfwAQFfgUbABAUaAAA." + _DISCLOSED
IABTCF_JAVA_PURPOSES = "COwxsONOwxsONKpAAAENAdCAAMAAAAAAAAAAAAAAAAAA"
# The GPP Consent String Specification's examples ("DBABMA~" + this):
GPP_SPEC_TCF = "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"
# iabgpp-java GppModelTest (the TCF EU section of "DBABMA~..."), created 2022-01-01:
IABGPP_JAVA_TCF = "CPSG_8APSG_8ANwAAAENAwCAAAAAAAAAAAAAAAAAAAAA.QAAA.IAAA"
# SirDataFR/iabtcfv2 decode_test.go: a real CMP's string with 236 vendor consents.
SIRDATA_CORE = (
    "COxR03kOxR1CqBcABCENAgCMAP_AAH_AAAqIF3EXySoGY2thI2YVFxBEIYwfJxyigMgChgQIsSwNQIeFLBoGLiAAHBG"
    "YJAQAGBAEEACBAQIkHGBMCQAAgAgBiRCMQEGMCzNIBIBAggEbY0FACCVmHkHSmZCY7064O__QLuIJEFQMAkSBAIACL"
    "ECIQwAQDiAAAYAlAAABAhIaAAgIWBQEeAAAACAwAAgAAABBAAACAAQAAICIAAABAAAgAiAQAAAAGgIQAACBABACRIA"
    "AAEANCAAgiCEAQg4EAo4AAA"
)


def test_iabtcf_java_basic_fields() -> None:
    tc = decode_tc_string(IABTCF_JAVA_BASIC)
    assert tc.version == 2
    assert tc.created == datetime(2020, 1, 26, 17, 1, tzinfo=UTC)
    assert tc.last_updated == datetime(2021, 2, 2, 17, 1, tzinfo=UTC)
    assert (tc.cmp_id, tc.cmp_version, tc.consent_screen) == (675, 2, 1)
    assert (tc.vendor_list_version, tc.tcf_policy_version) == (15, 2)
    assert (tc.consent_language, tc.publisher_cc) == ("EN", "AA")
    assert not tc.is_service_specific
    assert tc.purpose_one_treatment
    assert not tc.use_non_standard_texts
    assert tc.special_feature_opt_ins == {1}
    assert tc.purpose_consents == {2, 10}
    assert tc.purpose_legitimate_interests == {2, 9}
    assert len(tc.vendor_consents) == 0
    assert tc.publisher_restrictions == ()


@pytest.mark.parametrize("value", [IABTCF_JAVA_BITFIELD, IABTCF_JAVA_ALL_SEGMENTS])
def test_bitfield_vendor_lookups(value: str) -> None:
    tc = decode_tc_string(value)
    assert tc.purpose_consents == {3, 4, 5, 6, 7, 8, 9}
    assert not tc.vendor_consents.range_encoded
    assert tc.vendor_consents.ids() == (23, 37, 47, 48, 53, 65, 98)
    assert tc.vendor_legitimate_interests.ids() == (37, 47, 48, 53, 65, 98, 129)
    assert 23 in tc.vendor_consents
    assert 24 not in tc.vendor_consents
    assert 129 not in tc.vendor_consents  # past MaxVendorId
    assert 129 in tc.vendor_legitimate_interests


@pytest.mark.parametrize(
    ("value", "consents", "legitimate_interests"),
    [
        (IABTCF_JAVA_TWO_RANGE, (702, 703), (683, 684)),
        (IABTCF_JAVA_ONE_RANGE, (703,), (653,)),
        (IABTCF_JAVA_RANGE_LI, (127,), (128,)),
    ],
)
def test_range_vendor_lookups(
    value: str, consents: tuple[int, ...], legitimate_interests: tuple[int, ...]
) -> None:
    tc = decode_tc_string(value)
    assert tc.vendor_consents.range_encoded
    assert tc.vendor_consents.ids() == consents
    assert tc.vendor_legitimate_interests.ids() == legitimate_interests
    for vendor in consents:
        assert vendor in tc.vendor_consents
        assert vendor - 2 not in tc.vendor_consents
    assert 0 not in tc.vendor_consents


def test_purposes_example() -> None:
    assert decode_tc_string(IABTCF_JAVA_PURPOSES).purpose_consents == {1, 2}


def test_iabgpp_java_section() -> None:
    tc = decode_tc_string(IABGPP_JAVA_TCF)
    assert (tc.cmp_id, tc.cmp_version, tc.vendor_list_version) == (880, 0, 48)
    assert tc.created == tc.last_updated == datetime(2022, 1, 1, tzinfo=UTC)


def test_real_cmp_string_with_many_vendors() -> None:
    tc = decode_tc_string(SIRDATA_CORE)
    assert tc.cmp_id == 92
    assert tc.publisher_cc == "FR"
    assert tc.purpose_consents == set(range(1, 11))
    assert len(tc.vendor_consents) == 236
    assert tc.vendor_consents.ids()[:3] == (2, 6, 8)
    assert tc.vendor_consents.ids()[-1] == tc.vendor_consents.max_vendor_id == 750
    assert len(tc.vendor_legitimate_interests) == 103


def _spec_bits(value: str) -> str:
    """The core segment's bits via the standard library, for hand-slicing by spec offsets."""
    core = value.split(".")[0]
    raw = base64.urlsafe_b64decode(core + "=" * (-len(core) % 4))
    return "".join(format(byte, "08b") for byte in raw)


@pytest.mark.parametrize(
    "value", [GPP_SPEC_TCF, IABTCF_JAVA_BASIC, IABTCF_JAVA_BITFIELD, SIRDATA_CORE]
)
def test_fields_sit_at_the_spec_offsets(value: str) -> None:
    """Offsets from the TCF v2 core segment table: CmpId at 78, PublisherCC at 201, ..."""
    bits = _spec_bits(value)
    tc = decode_tc_string(value)
    assert tc.version == int(bits[0:6], 2)
    assert tc.created.timestamp() * 10 == pytest.approx(int(bits[6:42], 2))
    assert tc.cmp_id == int(bits[78:90], 2)
    assert tc.cmp_version == int(bits[90:102], 2)
    assert tc.vendor_list_version == int(bits[120:132], 2)
    assert tc.tcf_policy_version == int(bits[132:138], 2)
    assert tc.is_service_specific == (bits[138] == "1")
    assert tc.purpose_consents == {i + 1 for i in range(24) if bits[152 + i] == "1"}
    assert tc.publisher_cc == chr(65 + int(bits[201:207], 2)) + chr(65 + int(bits[207:213], 2))
    assert tc.vendor_consents.max_vendor_id == int(bits[213:229], 2)


def test_gpp_spec_example() -> None:
    tc = decode_tc_string(GPP_SPEC_TCF)
    assert (tc.cmp_id, tc.vendor_list_version, tc.publisher_cc) == (31, 126, "DE")
    assert tc.created == datetime(2022, 4, 20, 22, tzinfo=UTC)


def test_hand_laid_publisher_restrictions() -> None:
    """Three restrictions with no vendors, then one with a vendor range, laid out by hand."""
    bits = encoding.tc_core_bits()
    bits = bits[:-12]  # drop the encoder's NumPubRestrictions = 0
    bits += "000000000100"  # NumPubRestrictions = 4
    bits += "000001" + "01" + "000000000000"  # purpose 1, require consent, no vendors
    bits += "000010" + "00" + "000000000000"  # purpose 2, not allowed, no vendors
    bits += "000011" + "10" + "000000000000"  # purpose 3, require LI, no vendors
    # purpose 7, not allowed, 2 entries: vendor 52 alone, then 100-102
    bits += "000111" + "00" + "000000000010"
    bits += "0" + "0000000000110100"
    bits += "1" + "0000000001100100" + "0000000001100110"
    tc = decode_tc_string(encoding.b64(bits))
    kinds = [(r.purpose_id, r.restriction_type) for r in tc.publisher_restrictions]
    assert kinds == [
        (1, RestrictionType.REQUIRE_CONSENT),
        (2, RestrictionType.NOT_ALLOWED),
        (3, RestrictionType.REQUIRE_LEGITIMATE_INTEREST),
        (7, RestrictionType.NOT_ALLOWED),
    ]
    assert tc.publisher_restrictions[3].vendors.ids() == (52, 100, 101, 102)
    assert tc.restriction(7, 101) is RestrictionType.NOT_ALLOWED
    assert tc.restriction(7, 53) is None
    assert tc.restriction(1, 52) is None  # the purpose 1 entry lists no vendors


def test_other_segments_are_ignored_even_if_garbage() -> None:
    core = encoding.tc_string(purposes=[1, 2], vendors=[52])
    assert decode_tc_string(core + ".!!not base64!!.") == decode_tc_string(core)


def test_standard_alphabet_and_padding_are_tolerated() -> None:
    value = encoding.tc_string(vendors=[1, 2, 3, 62, 63], purposes=range(1, 25))
    standard = value.replace("-", "+").replace("_", "/") + "=="
    assert decode_tc_string(standard) == decode_tc_string(value)


def test_decoding_is_cached() -> None:
    value = encoding.tc_string(cmp_id=4000, vendors=[7])
    before = decode_tc_string.cache_info().hits
    assert decode_tc_string(value) is decode_tc_string(value)
    assert decode_tc_string.cache_info().hits == before + 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty segment"),
        (".", "empty segment"),
        ("C!tybn4P", "not base64url"),
        ("COtybn4PA_zT4KjA", "truncated"),
        (IABTCF_JAVA_BASIC[:30], "truncated"),
        ("BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA", "unsupported version 1"),  # a TCF v1 string
        ("IFoEUQQgAIQwgIwQABAEAAAA", "unsupported version 8"),  # a disclosed-vendors segment
        (encoding.b64(encoding.tc_core_bits()[:213] + "0" * 16 + "1" + "0" * 11 + "1"), "trunc"),
        ("C" * 20_000, "longer than"),
    ],
)
def test_invalid_strings(value: str, message: str) -> None:
    with pytest.raises(ConsentStringError, match=message):
        decode_tc_string(value)


def test_bad_vendor_range_is_an_error() -> None:
    bits = encoding.tc_core_bits()[:213]
    bits += "0000000000000101" + "1" + "000000000001"  # MaxVendorId 5, range, 1 entry
    bits += "1" + "0000000000000101" + "0000000000000011"  # 5-3: end before start
    with pytest.raises(ConsentStringError, match="bad vendor range 5-3"):
        decode_tc_string(encoding.b64(bits))


_ids = st.frozensets(st.integers(1, 400), max_size=40)


@given(
    cmp_id=st.integers(0, 4095),
    vendor_list_version=st.integers(0, 4095),
    policy=st.integers(0, 63),
    special_features=st.frozensets(st.integers(1, 12)),
    purposes=st.frozensets(st.integers(1, 24)),
    purposes_li=st.frozensets(st.integers(1, 24)),
    vendors=_ids,
    vendors_li=_ids,
    range_encoded=st.booleans(),
    flags=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    created=st.integers(0, 2**36 - 1),
    language=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2),
)
def test_roundtrip(
    cmp_id: int,
    vendor_list_version: int,
    policy: int,
    special_features: frozenset[int],
    purposes: frozenset[int],
    purposes_li: frozenset[int],
    vendors: frozenset[int],
    vendors_li: frozenset[int],
    range_encoded: bool,
    flags: tuple[bool, bool, bool],
    created: int,
    language: str,
) -> None:
    created_at = datetime.fromtimestamp(created / 10, tz=UTC)
    value = encoding.tc_string(
        cmp_id=cmp_id,
        vendor_list_version=vendor_list_version,
        tcf_policy_version=policy,
        special_features=special_features,
        purposes=purposes,
        purposes_li=purposes_li,
        vendors=sorted(vendors),
        vendors_li=sorted(vendors_li),
        range_encoded=range_encoded,
        is_service_specific=flags[0],
        use_non_standard_texts=flags[1],
        purpose_one_treatment=flags[2],
        created=created_at,
        consent_language=language,
        publisher_cc=language[::-1],
    )
    tc = decode_tc_string(value)
    assert (tc.cmp_id, tc.vendor_list_version, tc.tcf_policy_version) == (
        cmp_id,
        vendor_list_version,
        policy,
    )
    assert tc.created == created_at
    assert (tc.is_service_specific, tc.use_non_standard_texts, tc.purpose_one_treatment) == flags
    assert (tc.consent_language, tc.publisher_cc) == (language, language[::-1])
    assert tc.special_feature_opt_ins == special_features
    assert tc.purpose_consents == purposes
    assert tc.purpose_legitimate_interests == purposes_li
    assert set(tc.vendor_consents.ids()) == vendors
    assert set(tc.vendor_legitimate_interests.ids()) == vendors_li
    assert tc.vendor_consents.range_encoded == range_encoded
    assert all(v in tc.vendor_consents for v in vendors)
    assert not any(v in tc.vendor_consents for v in range(1, 401) if v not in vendors)

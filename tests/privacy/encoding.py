"""Encoders for TC, GPP and US National strings, written from the IAB specs for the tests.

Deliberately independent of the package's decoders: plain string building, field by field,
so a decoder bug cannot cancel itself out in a roundtrip.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
EPOCH_2024 = datetime(2024, 3, 1, tzinfo=UTC)


def b64(bits: str) -> str:
    """Bits to base64url without padding, zero-padded on the right to a multiple of 6."""
    bits += "0" * (-len(bits) % 6)
    return "".join(ALPHABET[int(bits[i : i + 6], 2)] for i in range(0, len(bits), 6))


def uint(value: int, width: int) -> str:
    assert 0 <= value < 1 << width, (value, width)
    return format(value, f"0{width}b")


def flag(value: bool) -> str:
    return "1" if value else "0"


def bitfield(ids: Iterable[int], width: int) -> str:
    chosen = set(ids)
    return "".join(flag(i in chosen) for i in range(1, width + 1))


def letters(text: str) -> str:
    return "".join(uint(ord(c) - 65, 6) for c in text)


def runs(ids: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted ids as (first, last) runs of consecutive ids."""
    result: list[tuple[int, int]] = []
    for i in sorted(set(ids)):
        if result and result[-1][1] == i - 1:
            result[-1] = (result[-1][0], i)
        else:
            result.append((i, i))
    return result


def int_ranges(ids: Iterable[int]) -> str:
    """TCF range entries: NumEntries(12), then IsARange(1), Start(16)[, End(16)]."""
    entries = runs(ids)
    out = uint(len(entries), 12)
    for first, last in entries:
        out += "0" + uint(first, 16) if first == last else "1" + uint(first, 16) + uint(last, 16)
    return out


def vendor_section(ids: Sequence[int], *, range_encoded: bool = False) -> str:
    max_id = max(ids, default=0)
    if range_encoded:
        return uint(max_id, 16) + "1" + int_ranges(ids)
    return uint(max_id, 16) + "0" + bitfield(ids, max_id)


def tc_core_bits(
    *,
    version: int = 2,
    created: datetime = EPOCH_2024,
    last_updated: datetime = EPOCH_2024,
    cmp_id: int = 300,
    cmp_version: int = 7,
    consent_screen: int = 1,
    consent_language: str = "EN",
    vendor_list_version: int = 48,
    tcf_policy_version: int = 4,
    is_service_specific: bool = True,
    use_non_standard_texts: bool = False,
    special_features: Iterable[int] = (),
    purposes: Iterable[int] = (),
    purposes_li: Iterable[int] = (),
    purpose_one_treatment: bool = False,
    publisher_cc: str = "DE",
    vendors: Sequence[int] = (),
    vendors_li: Sequence[int] = (),
    range_encoded: bool = False,
    restrictions: Sequence[tuple[int, int, Sequence[int]]] = (),
) -> str:
    """The core segment's bits, field by field as in the TCF v2 spec."""
    bits = uint(version, 6)
    bits += uint(round(created.timestamp() * 10), 36)
    bits += uint(round(last_updated.timestamp() * 10), 36)
    bits += uint(cmp_id, 12) + uint(cmp_version, 12) + uint(consent_screen, 6)
    bits += letters(consent_language) + uint(vendor_list_version, 12)
    bits += uint(tcf_policy_version, 6) + flag(is_service_specific) + flag(use_non_standard_texts)
    bits += bitfield(special_features, 12) + bitfield(purposes, 24) + bitfield(purposes_li, 24)
    bits += flag(purpose_one_treatment) + letters(publisher_cc)
    bits += vendor_section(vendors, range_encoded=range_encoded)
    bits += vendor_section(vendors_li, range_encoded=range_encoded)
    bits += uint(len(restrictions), 12)
    for purpose, restriction_type, restricted in restrictions:
        bits += uint(purpose, 6) + uint(restriction_type, 2) + int_ranges(restricted)
    return bits


def tc_string(*, extra_segments: Sequence[str] = (), **fields: object) -> str:
    return ".".join([b64(tc_core_bits(**fields)), *extra_segments])  # type: ignore[arg-type]


def fibonacci(n: int) -> str:
    """Zeckendorf code word for n >= 1, least significant first, then the terminating 1."""
    assert n >= 1
    fibs = [1, 2]
    while fibs[-1] <= n:
        fibs.append(fibs[-1] + fibs[-2])
    code = ["0"] * len(fibs)
    for i in range(len(fibs) - 1, -1, -1):
        if fibs[i] <= n:
            code[i] = "1"
            n -= fibs[i]
    return "".join(code).rstrip("0") + "1"


def fibonacci_range(ids: Iterable[int]) -> str:
    entries = runs(ids)
    out = uint(len(entries), 12)
    last = 0
    for first, final in entries:
        if first == final:
            out += "0" + fibonacci(first - last)
        else:
            out += "1" + fibonacci(first - last) + fibonacci(final - first)
        last = final
    return out


def gpp_header(section_ids: Iterable[int]) -> str:
    return b64(uint(3, 6) + uint(1, 6) + fibonacci_range(section_ids))


def gpp_string(sections: dict[int, str]) -> str:
    ordered = sorted(sections)
    return "~".join([gpp_header(ordered), *(sections[i] for i in ordered)])


def usnat(
    *,
    notices: int = 1,
    sale_opt_out: int = 2,
    sharing_opt_out: int = 2,
    targeted_advertising_opt_out: int = 2,
    sensitive: Sequence[int] = (0,) * 16,
    known_child: Sequence[int] = (0, 0, 0),
    personal_data_consents: int = 0,
    mspa_covered_transaction: int = 1,
    mspa_opt_out_option_mode: int = 1,
    mspa_service_provider_mode: int = 2,
    gpc: bool | None = None,
    version: int = 1,
) -> str:
    """A US National section; 16/3 lists give the 2024 layout, 12/2 the original one."""
    bits = uint(version, 6) + uint(notices, 2) * 6
    bits += uint(sale_opt_out, 2) + uint(sharing_opt_out, 2) + uint(targeted_advertising_opt_out, 2)
    bits += "".join(uint(v, 2) for v in sensitive) + "".join(uint(v, 2) for v in known_child)
    bits += uint(personal_data_consents, 2) + uint(mspa_covered_transaction, 2)
    bits += uint(mspa_opt_out_option_mode, 2) + uint(mspa_service_provider_mode, 2)
    section = b64(bits)
    if gpc is not None:
        section += "." + b64("01" + flag(gpc))
    return section

"""IAB TCF v2 (2.0 to 2.2) TC strings: the core segment, decoded per the IAB Tech Lab spec.

A TC string is base64url segments joined by "."; the first is the core segment, the others
(disclosed vendors, publisher TC) carry nothing the auction needs and are ignored.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum

from ._bits import MAX_CONSENT_LENGTH, BitReader, to_bits
from .errors import ConsentStringError

__all__ = [
    "PublisherRestriction",
    "RestrictionType",
    "TCString",
    "VendorSet",
    "decode_tc_string",
]


class RestrictionType(IntEnum):
    NOT_ALLOWED = 0
    REQUIRE_CONSENT = 1
    REQUIRE_LEGITIMATE_INTEREST = 2
    UNDEFINED = 3


@dataclass(frozen=True, slots=True)
class VendorSet:
    """Vendor ids from a bitfield or a range section; membership is one shift and mask."""

    max_vendor_id: int
    mask: int  # bit n set means vendor n is in the set
    range_encoded: bool = False

    def __contains__(self, vendor_id: object) -> bool:
        return isinstance(vendor_id, int) and vendor_id > 0 and (self.mask >> vendor_id) & 1 == 1

    def __len__(self) -> int:
        return self.mask.bit_count()

    def ids(self) -> tuple[int, ...]:
        return tuple(i for i, bit in enumerate(reversed(bin(self.mask))) if bit == "1")


@dataclass(frozen=True, slots=True)
class PublisherRestriction:
    purpose_id: int
    restriction_type: RestrictionType
    vendors: VendorSet


@dataclass(frozen=True, slots=True)
class TCString:
    version: int
    created: datetime
    last_updated: datetime
    cmp_id: int
    cmp_version: int
    consent_screen: int
    consent_language: str
    vendor_list_version: int
    tcf_policy_version: int
    is_service_specific: bool
    use_non_standard_texts: bool
    special_feature_opt_ins: frozenset[int]
    purpose_consents: frozenset[int]
    purpose_legitimate_interests: frozenset[int]
    purpose_one_treatment: bool
    publisher_cc: str
    vendor_consents: VendorSet
    vendor_legitimate_interests: VendorSet
    publisher_restrictions: tuple[PublisherRestriction, ...]

    def restriction(self, purpose_id: int, vendor_id: int) -> RestrictionType | None:
        """The publisher's restriction on this vendor for this purpose, if any."""
        for entry in self.publisher_restrictions:
            if entry.purpose_id == purpose_id and vendor_id in entry.vendors:
                return entry.restriction_type
        return None


@functools.lru_cache(maxsize=4096)
def decode_tc_string(value: str) -> TCString:
    """Decode the core segment of a TC string; raises ConsentStringError if it is not one.

    Cached: the same user's string arrives on many requests, and decoding is pure.
    """
    if len(value) > MAX_CONSENT_LENGTH:
        raise ConsentStringError(f"tcf: longer than {MAX_CONSENT_LENGTH} characters")
    core = value.split(".", 1)[0]
    reader = BitReader(to_bits(core, "tcf"), "tcf")
    version = reader.read_int(6)
    if version != 2:
        raise ConsentStringError(f"tcf: unsupported version {version}")
    return TCString(
        version=version,
        created=_deciseconds(reader.read_int(36)),
        last_updated=_deciseconds(reader.read_int(36)),
        cmp_id=reader.read_int(12),
        cmp_version=reader.read_int(12),
        consent_screen=reader.read_int(6),
        consent_language=reader.read_letters(2),
        vendor_list_version=reader.read_int(12),
        tcf_policy_version=reader.read_int(6),
        is_service_specific=reader.read_bool(),
        use_non_standard_texts=reader.read_bool(),
        special_feature_opt_ins=reader.read_id_set(12),
        purpose_consents=reader.read_id_set(24),
        purpose_legitimate_interests=reader.read_id_set(24),
        purpose_one_treatment=reader.read_bool(),
        publisher_cc=reader.read_letters(2),
        vendor_consents=_read_vendor_section(reader),
        vendor_legitimate_interests=_read_vendor_section(reader),
        publisher_restrictions=_read_publisher_restrictions(reader),
    )


def _deciseconds(value: int) -> datetime:
    return datetime.fromtimestamp(value / 10, tz=UTC)


def _read_vendor_section(reader: BitReader) -> VendorSet:
    max_vendor_id = reader.read_int(16)
    if reader.read_bool():
        return VendorSet(max_vendor_id, _read_ranges(reader), range_encoded=True)
    return VendorSet(max_vendor_id, reader.read_id_mask(max_vendor_id))


def _read_ranges(reader: BitReader) -> int:
    """NumEntries(12) then entries of IsARange(1), Start(16) and, for a range, End(16)."""
    mask = 0
    for _ in range(reader.read_int(12)):
        is_range = reader.read_bool()
        start = reader.read_int(16)
        end = reader.read_int(16) if is_range else start
        if start < 1 or end < start:
            raise ConsentStringError(f"tcf: bad vendor range {start}-{end}")
        mask |= ((1 << (end - start + 1)) - 1) << start
    return mask


def _read_publisher_restrictions(reader: BitReader) -> tuple[PublisherRestriction, ...]:
    restrictions = []
    for _ in range(reader.read_int(12)):
        purpose_id = reader.read_int(6)
        restriction_type = RestrictionType(reader.read_int(2))
        vendors = _read_ranges(reader)
        restrictions.append(
            PublisherRestriction(purpose_id, restriction_type, VendorSet(0, vendors, True))
        )
    return tuple(restrictions)

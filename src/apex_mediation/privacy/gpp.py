"""IAB GPP strings: the header, sections split by "~", and the sections the auction reads.

Header: Type Int(6) = 3, Version Int(6) = 1, then the section ids as a Fibonacci range. The
sections follow in the header's order. Decoded here: TCF EU v2 (id 2, the TC string itself),
US Privacy v1 (id 6) and US National (id 7); every section is also kept as its raw string.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

from ._bits import MAX_CONSENT_LENGTH, BitReader, to_bits
from .errors import ConsentStringError
from .tcf import TCString, decode_tc_string
from .usp import USPrivacy, decode_us_privacy

__all__ = [
    "TCF_EU_V2",
    "USNAT",
    "USP_V1",
    "GPPString",
    "UsNat",
    "decode_gpp",
    "decode_usnat",
]

TCF_EU_V2 = 2
USP_V1 = 6
USNAT = 7

_HEADER_TYPE = 3


@dataclass(frozen=True, slots=True)
class UsNat:
    """The US National section's core segment (values: 0 not applicable, 1 yes, 2 no)."""

    version: int
    sharing_notice: int
    sale_opt_out_notice: int
    sharing_opt_out_notice: int
    targeted_advertising_opt_out_notice: int
    sensitive_data_processing_opt_out_notice: int
    sensitive_data_limit_use_notice: int
    sale_opt_out: int  # 1 opted out, 2 did not
    sharing_opt_out: int
    targeted_advertising_opt_out: int
    sensitive_data_processing: tuple[int, ...]  # 12 or 16 entries: 0 n/a, 1 no consent, 2 consent
    known_child_sensitive_data_consents: tuple[int, ...]  # 2 or 3 entries, same values
    personal_data_consents: int
    mspa_covered_transaction: int
    mspa_opt_out_option_mode: int
    mspa_service_provider_mode: int
    gpc: bool | None = None  # None when the GPC sub-section is absent

    @property
    def opted_out_of_sale(self) -> bool:
        return self.sale_opt_out == 1

    @property
    def opted_out_of_sharing(self) -> bool:
        return self.sharing_opt_out == 1

    @property
    def opted_out_of_targeted_advertising(self) -> bool:
        return self.targeted_advertising_opt_out == 1

    @property
    def known_child_without_consent(self) -> bool:
        """A known child (or teen) whose data may not be processed: any entry is "no consent"."""
        return 1 in self.known_child_sensitive_data_consents


@dataclass(frozen=True, slots=True)
class GPPString:
    version: int
    section_ids: tuple[int, ...]
    sections: tuple[str, ...]  # raw section strings, in the order of section_ids

    def raw(self, section_id: int) -> str | None:
        for sid, section in zip(self.section_ids, self.sections, strict=True):
            if sid == section_id:
                return section
        return None

    def tcf_eu_v2(self) -> TCString | None:
        """The TCF EU v2 section, or None if absent; raises ConsentStringError if invalid."""
        raw = self.raw(TCF_EU_V2)
        return None if raw is None else decode_tc_string(raw)

    def us_privacy(self) -> USPrivacy | None:
        raw = self.raw(USP_V1)
        return None if raw is None else decode_us_privacy(raw)

    def usnat(self) -> UsNat | None:
        raw = self.raw(USNAT)
        return None if raw is None else decode_usnat(raw)


@functools.lru_cache(maxsize=4096)
def decode_gpp(value: str) -> GPPString:
    """Decode the header and split the sections; sections are decoded on demand (cached)."""
    if len(value) > MAX_CONSENT_LENGTH:
        raise ConsentStringError(f"gpp: longer than {MAX_CONSENT_LENGTH} characters")
    header, *sections = value.split("~")
    reader = BitReader(to_bits(header, "gpp header"), "gpp header")
    header_type = reader.read_int(6)
    if header_type != _HEADER_TYPE:
        raise ConsentStringError(f"gpp: header type {header_type}, expected {_HEADER_TYPE}")
    version = reader.read_int(6)
    if version != 1:
        raise ConsentStringError(f"gpp: unsupported version {version}")
    section_ids = _read_fibonacci_range(reader, limit=len(sections))
    if len(section_ids) != len(sections):
        raise ConsentStringError(
            f"gpp: header lists {len(section_ids)} sections, string has {len(sections)}"
        )
    return GPPString(version=version, section_ids=section_ids, sections=tuple(sections))


def _read_fibonacci_range(reader: BitReader, limit: int) -> tuple[int, ...]:
    """NumEntries Int(12), then per entry IsARange(1), an offset from the previous id and, for
    a range, its length; both Fibonacci-coded. Stops past `limit` ids, as a huge range in a
    tiny string would otherwise be expanded in full."""
    ids: list[int] = []
    last = 0
    for _ in range(reader.read_int(12)):
        is_range = reader.read_bool()
        start = last + reader.read_fibonacci()
        last = start + reader.read_fibonacci() if is_range else start
        if len(ids) + last - start + 1 > limit:
            raise ConsentStringError("gpp: header lists more sections than the string has")
        ids.extend(range(start, last + 1))
    return tuple(ids)


@functools.lru_cache(maxsize=4096)
def decode_usnat(value: str) -> UsNat:
    """Decode a US National section: the core segment, then an optional GPC sub-section."""
    core, *subsections = value.split(".")
    bits = to_bits(core, "usnat")
    reader = BitReader(bits, "usnat")
    version = reader.read_int(6)
    if version not in (1, 2):
        raise ConsentStringError(f"usnat: unsupported version {version}")
    sensitive_count, child_count = _usnat_layout(bits)
    section = UsNat(
        version=version,
        sharing_notice=reader.read_int(2),
        sale_opt_out_notice=reader.read_int(2),
        sharing_opt_out_notice=reader.read_int(2),
        targeted_advertising_opt_out_notice=reader.read_int(2),
        sensitive_data_processing_opt_out_notice=reader.read_int(2),
        sensitive_data_limit_use_notice=reader.read_int(2),
        sale_opt_out=reader.read_int(2),
        sharing_opt_out=reader.read_int(2),
        targeted_advertising_opt_out=reader.read_int(2),
        sensitive_data_processing=tuple(reader.read_int(2) for _ in range(sensitive_count)),
        known_child_sensitive_data_consents=tuple(reader.read_int(2) for _ in range(child_count)),
        personal_data_consents=reader.read_int(2),
        mspa_covered_transaction=reader.read_int(2),
        mspa_opt_out_option_mode=reader.read_int(2),
        mspa_service_provider_mode=reader.read_int(2),
    )
    for subsection in subsections:
        sub = BitReader(to_bits(subsection, "usnat gpc"), "usnat gpc")
        if sub.read_int(2) == 1:  # SubsectionType 1 is GPC; others are not defined yet
            return dataclasses.replace(section, gpc=sub.read_bool())
    return section


def _usnat_layout(bits: str) -> tuple[int, int]:
    """(sensitive data entries, known child entries) of a US National core segment.

    The 2024 revision grew the lists from 12 and 2 entries (60 bits) to 16 and 3 (70 bits)
    without always bumping the version, and encoders pad differently, so the length alone can
    be ambiguous. In the long layout MspaCoveredTransaction sits at bits 64-65 and is never 0
    (1 yes, 2 no); in a padded short string those bits are padding zeros.
    """
    if len(bits) >= 70 and bits[64:66] in ("01", "10"):
        return 16, 3
    return 12, 2

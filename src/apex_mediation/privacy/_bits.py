"""Bit-level reading shared by the TCF and GPP decoders.

A segment is turned into a str of "0"/"1" once (one C-level str.translate), then fields are
sliced out of it: cheaper in CPython than shifting a big int for every field.
"""

from __future__ import annotations

from .errors import ConsentStringError

# Longest consent string we decode at all. Real TC strings with a disclosed-vendors segment stay
# well under this; the cap bounds the work an adversarial string can cause on the hot path.
MAX_CONSENT_LENGTH = 16_384

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_SIX_BITS: dict[int, str] = {ord(c): format(i, "06b") for i, c in enumerate(_ALPHABET)}
# Some CMPs emit the standard alphabet; the values are the same, so accept it.
_SIX_BITS[ord("+")] = _SIX_BITS[ord("-")]
_SIX_BITS[ord("/")] = _SIX_BITS[ord("_")]

# Fibonacci numbers from F(2): 1, 2, 3, 5, ... ; 40 terms cover any id a GPP string will carry.
_FIBONACCI: list[int] = [1, 2]
while len(_FIBONACCI) < 40:
    _FIBONACCI.append(_FIBONACCI[-1] + _FIBONACCI[-2])


def to_bits(segment: str, what: str) -> str:
    """Decode one base64url segment (no padding needed) into a string of bits."""
    text = segment.rstrip("=")
    if not text:
        raise ConsentStringError(f"{what}: empty segment")
    bits = text.translate(_SIX_BITS)
    # Characters outside the alphabet are left as one character instead of six.
    if len(bits) != 6 * len(text):
        raise ConsentStringError(f"{what}: not base64url")
    return bits


class BitReader:
    """Reads fields, most significant bit first, from a bit string."""

    __slots__ = ("bits", "pos", "what")

    def __init__(self, bits: str, what: str) -> None:
        self.bits = bits
        self.pos = 0
        self.what = what

    @property
    def remaining(self) -> int:
        return len(self.bits) - self.pos

    def _take(self, n: int) -> str:
        end = self.pos + n
        if end > len(self.bits):
            raise ConsentStringError(f"{self.what}: truncated at bit {self.pos}")
        chunk = self.bits[self.pos : end]
        self.pos = end
        return chunk

    def read_int(self, n: int) -> int:
        return int(self._take(n), 2) if n else 0

    def read_bool(self) -> bool:
        return self._take(1) == "1"

    def read_id_set(self, n: int) -> frozenset[int]:
        """A bitfield of n bits as the 1-based ids whose bit is set."""
        chunk = self._take(n)
        return frozenset(i + 1 for i, bit in enumerate(chunk) if bit == "1")

    def read_id_mask(self, n: int) -> int:
        """A bitfield of n bits as an int with bit i set for id i (bit 0 unused)."""
        chunk = self._take(n)
        return int(chunk[::-1], 2) << 1 if n else 0

    def read_fibonacci(self) -> int:
        """A Fibonacci-coded integer: code bits then a terminating 1 (so it ends in "11")."""
        value = 0
        previous = "0"
        for index in range(len(_FIBONACCI) + 1):
            bit = self._take(1)
            if bit == "1" and previous == "1":
                return value
            if bit == "1":
                if index >= len(_FIBONACCI):
                    break
                value += _FIBONACCI[index]
            previous = bit
        raise ConsentStringError(f"{self.what}: Fibonacci integer too long at bit {self.pos}")

    def read_letters(self, n: int) -> str:
        """n letters of 6 bits each, 0 = "A"."""
        return "".join(chr(65 + self.read_int(6)) for _ in range(n))

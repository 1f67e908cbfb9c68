"""Packed BCD as DL/T 645-2007 and CJ/T 188-2004 meters send it (pure: no I/O).

Both protocols send a number as packed BCD, least significant byte first. A
format names the digits and where the decimal point sits, as the standards
print them (DL/T 645-2007 appendix A: XXXXXX.XX kWh, XXX.X V, XXX.XXX A,
XX.XXXX kW, X.XXX power factor). In a signed format the top bit of the most
significant byte is the sign and the rest of that byte's high nibble is the
top digit (0-7). Meter and device addresses are BCD too, low byte first.
Status words beside the values (CJ/T 188 ST) are plain binary, low byte first;
``bit_field_decoder`` reads a field of their bits.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from gateway.core.codec import CodecError

FORMAT_PATTERN = r"^X+(\.X+)?$"
_FORMAT = re.compile(FORMAT_PATTERN)

Number = int | float


@dataclass(frozen=True, slots=True)
class BcdFormat:
    """``digits`` BCD digits, ``decimals`` of them after the point, optionally signed."""

    digits: int
    decimals: int
    signed: bool = False

    @classmethod
    def parse(cls, text: str, *, signed: bool = False) -> BcdFormat:
        """``XXXXXX.XX`` → 8 digits, 2 decimals; raises ValueError for anything else."""
        if not _FORMAT.match(text):
            raise ValueError(f"'{text}' is not a BCD format such as XXXXXX.XX (X for each digit)")
        whole, _, frac = text.partition(".")
        digits = len(whole) + len(frac)
        if digits % 2:
            raise ValueError(f"'{text}' has {digits} digits; packed BCD holds two per byte")
        return cls(digits, len(frac), signed)

    @property
    def nbytes(self) -> int:
        return self.digits // 2

    @property
    def largest(self) -> Number:
        """The largest magnitude the format holds."""
        top: int = 8 * 10 ** (self.digits - 1) - 1 if self.signed else 10 ** self.digits - 1
        return top if not self.decimals else top / 10 ** self.decimals

    def __str__(self) -> str:
        whole = "X" * (self.digits - self.decimals)
        return whole + ("." + "X" * self.decimals if self.decimals else "")


def _digits_of(data: Sequence[int], signed: bool) -> tuple[int, bool]:
    """The unsigned integer the BCD bytes spell (low byte first) and its sign."""
    negative = False
    n = 0
    last = len(data) - 1
    for i in range(last, -1, -1):
        byte = data[i]
        if i == last and signed:
            negative = bool(byte & 0x80)
            byte &= 0x7F
        hi, lo = byte >> 4, byte & 0x0F
        if hi > 9 or lo > 9:
            raise CodecError(f"byte {data[i]:02X} is not BCD")
        n = n * 100 + hi * 10 + lo
    return n, negative


@cache
def bcd_decoder(fmt: BcdFormat) -> Callable[[Sequence[int]], Number]:
    """A function decoding exactly ``fmt.nbytes`` bytes (low byte first) into a number."""
    scale = 10 ** fmt.decimals

    def decode(data: Sequence[int]) -> Number:
        n, negative = _digits_of(data, fmt.signed)
        if negative:
            n = -n
        return n / scale if fmt.decimals else n
    return decode


@cache
def bcd_encoder(fmt: BcdFormat) -> Callable[[Number | str], list[int]]:
    """A function encoding a number into ``fmt.nbytes`` bytes (low byte first).

    Raises CodecError for text, a value the format cannot hold, or a negative
    value in an unsigned format (never wraps).
    """
    scale = 10 ** fmt.decimals

    def encode(value: Number | str) -> list[int]:
        if isinstance(value, str) or not math.isfinite(value):
            raise CodecError(f"BCD {fmt} needs a finite number, got {value!r}")
        n = round(abs(value) * scale)
        if value < 0 and n and not fmt.signed:
            raise CodecError(f"{value} is negative; BCD {fmt} is unsigned")
        if abs(value) > fmt.largest or n > round(fmt.largest * scale):
            raise CodecError(f"{value} does not fit in BCD {fmt}"
                             f"{' (signed)' if fmt.signed else ''}")
        out = []
        for _ in range(fmt.nbytes):
            n, pair = divmod(n, 100)
            out.append((pair // 10) << 4 | pair % 10)
        if value < 0 and any(out):
            out[-1] |= 0x80
        return out
    return encode


@cache
def bit_field_decoder(nbytes: int, first: int, width: int) -> Callable[[Sequence[int]], int]:
    """A function reading bits ``first`` … ``first + width - 1`` of a binary word of
    ``nbytes`` bytes sent low byte first (bit 0: the first byte's lowest)."""
    mask = (1 << width) - 1

    def decode(data: Sequence[int]) -> int:
        return int.from_bytes(bytes(data[:nbytes]), "little") >> first & mask
    return decode


@cache
def bit_field_encoder(nbytes: int, first: int, width: int) -> Callable[[Number | str], list[int]]:
    """The word (low byte first) with only that field set to a value; the other bits
    are 0, for the caller to merge under ``bit_field_mask``. Raises CodecError for a
    value the field cannot hold."""
    def encode(value: Number | str) -> list[int]:
        if isinstance(value, str) or value != int(value) or not 0 <= value < 1 << width:
            raise CodecError(f"{value!r} does not fit in {width} bit{'s' * (width > 1)}")
        return list((int(value) << first).to_bytes(nbytes, "little"))
    return encode


def bit_field_mask(nbytes: int, first: int, width: int) -> bytes:
    """The bytes of the word that the field occupies, as a mask."""
    return (((1 << width) - 1) << first).to_bytes(nbytes, "little")


def address_bytes(digits: str, nbytes: int) -> bytes:
    """A meter address of ``2 * nbytes`` decimal digits → BCD, low byte first.

    ``A`` digits stand for the wildcard nibble 0xA (read-address broadcasts)."""
    if len(digits) != 2 * nbytes or not all(c in "0123456789Aa" for c in digits):
        raise ValueError(f"address '{digits}' is not {2 * nbytes} decimal digits")
    pairs = [int(digits[i:i + 2], 16) for i in range(0, len(digits), 2)]
    return bytes(reversed(pairs))


def unit_address(unit: int, nbytes: int) -> str:
    """The address of ``2 * nbytes`` digits of the meter a link knows by its number."""
    return f"{unit:0{2 * nbytes}d}"


def address_digits(data: bytes) -> str:
    """BCD address bytes (low byte first) → the digits printed on the meter's nameplate."""
    text = bytes(reversed(data)).hex().upper()
    if not all(c in "0123456789" for c in text):
        raise CodecError(f"address {text} is not BCD")
    return text

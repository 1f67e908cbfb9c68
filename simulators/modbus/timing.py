"""Serial wire time of RTU frames (Modbus over Serial Line V1.02 §2.5.1.1).

A character is 1 start + 8 data + parity (0 or 1) + stop (1 or 2) bits.
Frames are separated by t3.5 = 3.5 characters, fixed at 1.75 ms above 19200 baud.
"""

from __future__ import annotations

from typing import Literal

Parity = Literal["N", "E", "O"]
StopBits = Literal[1, 2]

FIXED_T35_S = 0.00175  # t3.5 above 19200 baud
READ_REQUEST_BYTES = 8  # unit, FC, address, count, CRC


def char_time_s(baudrate: int, parity: Parity = "E", stopbits: StopBits = 1) -> float:
    bits = 1 + 8 + (0 if parity == "N" else 1) + stopbits
    return bits / baudrate


def t35_s(baudrate: int, parity: Parity = "E", stopbits: StopBits = 1) -> float:
    """The silence that ends a frame."""
    if baudrate > 19200:
        return FIXED_T35_S
    return 3.5 * char_time_s(baudrate, parity, stopbits)


def frame_time_s(nbytes: int, baudrate: int, parity: Parity = "E", stopbits: StopBits = 1) -> float:
    """Time to send `nbytes` characters back to back."""
    return nbytes * char_time_s(baudrate, parity, stopbits)


def read_wire_time_s(
    nregs: int, baudrate: int, parity: Parity = "E", stopbits: StopBits = 1
) -> float:
    """Bus time of an FC03/04 read of `nregs` registers, device turnaround excluded:
    T(n) = (8 + 5 + 2n) characters + 2·t3.5 (45.8 ms for 10 registers at 9600 8E1)."""
    reply_bytes = 5 + 2 * nregs
    return frame_time_s(READ_REQUEST_BYTES + reply_bytes, baudrate, parity, stopbits) + 2 * t35_s(
        baudrate, parity, stopbits
    )

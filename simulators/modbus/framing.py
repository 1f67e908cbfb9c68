"""Frames around a PDU: MBAP for Modbus TCP, unit id + CRC-16/MODBUS for RTU.

RTU has no length field: a real device finds the end of a frame by the silence
after it. Over a pty or a TCP socket that silence is not observable reliably,
so requests are cut by the length their function code implies (FC15/16 by
their byte count), checked by CRC, and a gap between chunks longer than
`gap_s` drops any half frame, as the silence would on a real line.
"""

from __future__ import annotations

from typing import Final

MAX_RTU_FRAME: Final = 256


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC_TABLE: Final = _crc_table()


def crc16(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF); sent low byte first."""
    crc = 0xFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def rtu_frame(unit_id: int, pdu: bytes) -> bytes:
    adu = bytes((unit_id,)) + pdu
    return adu + crc16(adu).to_bytes(2, "little")


def check_crc(frame: bytes | bytearray) -> bool:
    """True if the frame's last two bytes are the CRC of the rest."""
    return len(frame) >= 4 and crc16(memoryview(frame)[:-2]) == int.from_bytes(frame[-2:], "little")


# Request lengths (unit id and CRC included) of fixed-size requests, by function code.
# Functions we do not implement are listed too, so that they are cut correctly and
# answered with exception 01 instead of being taken for noise.
_FIXED_REQUEST_LENGTH: Final = {
    0x01: 8, 0x02: 8, 0x03: 8, 0x04: 8, 0x05: 8, 0x06: 8,
    0x07: 4, 0x08: 8, 0x0B: 4, 0x0C: 4, 0x11: 4, 0x16: 10, 0x18: 6, 0x2B: 7,
}  # fmt: skip
# Variable-size requests: index of their byte count (data and CRC follow it).
_COUNTED_REQUEST: Final = {0x0F: 6, 0x10: 6, 0x14: 2, 0x15: 2, 0x17: 10}


def rtu_request_length(frame: bytes | bytearray) -> int | None:
    """Length of the request at the start of `frame`, None if more bytes are needed
    to tell, 0 if its function code does not say (the whole chunk is the frame)."""
    if len(frame) < 2:
        return None
    fc = frame[1]
    fixed = _FIXED_REQUEST_LENGTH.get(fc)
    if fixed is not None:
        return fixed
    at = _COUNTED_REQUEST.get(fc)
    if at is None:
        return 0
    if len(frame) <= at:
        return None
    return at + 1 + frame[at] + 2


class RtuRequestFramer:
    """Cuts RTU request frames out of a byte stream; bad frames are dropped silently."""

    def __init__(self, gap_s: float) -> None:
        self.gap_s = gap_s
        self.bad_frames = 0
        self._buffer = bytearray()
        self._last_chunk_at = float("-inf")

    def feed(self, data: bytes, now: float) -> list[bytes]:
        """Add a chunk received at `now` (seconds); return complete frames, CRC removed."""
        buffer = self._buffer
        if buffer and now - self._last_chunk_at > self.gap_s:
            self._drop()
        self._last_chunk_at = now
        buffer += data
        frames: list[bytes] = []
        while buffer:
            length = rtu_request_length(buffer)
            if length is None:
                break
            if length == 0:  # unknown function: the chunk so far is the frame, if its CRC says so
                if check_crc(buffer):
                    frames.append(bytes(buffer[:-2]))
                    buffer.clear()
                elif len(buffer) > MAX_RTU_FRAME:
                    self._drop()
                break
            if length > MAX_RTU_FRAME:
                self._drop()
                break
            if len(buffer) < length:
                break
            frame = buffer[:length]
            if not check_crc(frame):
                self._drop()  # a garbled frame: everything up to the next silence is lost
                break
            frames.append(bytes(frame[:-2]))
            del buffer[:length]
        return frames

    def _drop(self) -> None:
        self.bad_frames += 1
        self._buffer.clear()
